// SPDX-License-Identifier: Apache-2.0
// More SDK features on a real temporald: cancellation handled by the workflow (cleanup, then a
// normal completion), asynchronous activity completion, workflow updates, signalling another
// workflow, search attributes and memo, patching, large payloads, and listing workflows.
// Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import {
  useTemporald,
  sdkTest,
  sdkActivity,
  sdkClient,
  uniq,
  eventTypes,
  eventsOf,
  attrs,
  waitFor,
} from './harness.mjs';
import { TODO } from './todo.mjs';

const env = useTemporald({ args: ['--search-attribute', 'CustomKeywordField=Keyword'] });
const { Context } = sdkActivity;

async function historyHas(handle, type) {
  return eventTypes(await handle.fetchHistory()).includes(type);
}

sdkTest('a cancelled workflow cleans up and completes normally', { todo: TODO.cancelCleanup }, async () => {
  const taskQueue = uniq('cleanup');
  const workflowId = uniq('cleanup-wf');
  const calls = [];
  const activities = { greet: async (n) => (calls.push(n), `bye, ${n}`) };
  const r = await env.withWorker({ taskQueue, activities }, async () => {
    const handle = await env.client.workflow.start('cleanupOnCancel', { taskQueue, workflowId });
    assert.ok(await waitFor(() => historyHas(handle, 'TimerStarted')));
    await handle.cancel();
    return handle.result();
  });
  assert.equal(r, 'bye, cleanup');
  assert.deepEqual(calls, ['cleanup']);
  const h = await env.handle(workflowId).fetchHistory();
  const types = eventTypes(h);
  const i = types.indexOf('WorkflowExecutionCancelRequested');
  assert.ok(i > 0 && i < types.indexOf('ActivityTaskScheduled'));
  assert.equal(types.at(-1), 'WorkflowExecutionCompleted');
  assert.equal((await env.handle(workflowId).describe()).status.name, 'COMPLETED');
});

sdkTest('asynchronous activity completion by task token', { todo: TODO.asyncCompletion }, async () => {
  const taskQueue = uniq('async');
  const workflowId = uniq('async-wf');
  let token;
  const activities = {
    async greet() {
      token = Context.current().info.taskToken;
      throw new sdkActivity.CompleteAsyncError();
    },
  };
  const r = await env.withWorker({ taskQueue, activities }, async () => {
    const handle = await env.client.workflow.start('hello', { taskQueue, workflowId, args: ['x'] });
    assert.ok(await waitFor(() => token), 'the activity ran');
    // (ActivityTaskStarted is written only when the activity closes, as Temporal does.)
    assert.ok(!(await historyHas(handle, 'ActivityTaskStarted')));
    await env.client.activity.heartbeat(token, 'half way');
    await env.client.activity.complete(token, 'completed from outside');
    // The token is spent: a second completion is refused.
    await assert.rejects(env.client.activity.complete(token, 'again'), (err) => err instanceof sdkClient.ActivityNotFoundError);
    return handle.result();
  });
  assert.equal(r, 'completed from outside');
  const h = await env.handle(workflowId).fetchHistory();
  assert.equal(eventsOf(h, 'ActivityTaskCompleted').length, 1);
});

sdkTest('workflow update: accepted, completed, rejected by the handler', { todo: TODO.update, timeout: 30000 }, async () => {
  const taskQueue = uniq('update');
  const workflowId = uniq('update-wf');
  const r = await env.withWorker({ taskQueue }, async () => {
    const handle = await env.client.workflow.start('updatable', { taskQueue, workflowId });
    assert.equal(await handle.executeUpdate('addUpdate', { args: [5] }), 5);
    assert.equal(await handle.executeUpdate('addUpdate', { args: [7] }), 12);
    await assert.rejects(handle.executeUpdate('addUpdate', { args: [-1] }), (err) => {
      assert.equal(err.name, 'WorkflowUpdateFailedError');
      assert.equal(err.cause?.message, 'negative');
      return true;
    });
    await handle.signal('done');
    return handle.result();
  });
  assert.equal(r, 12);
  const h = await env.handle(workflowId).fetchHistory();
  assert.equal(eventsOf(h, 'WorkflowExecutionUpdateAccepted').length, 3);
  assert.equal(eventsOf(h, 'WorkflowExecutionUpdateCompleted').length, 3);
});

sdkTest('a workflow signals another workflow', { todo: TODO.signalExternal, timeout: 20000 }, async () => {
  const taskQueue = uniq('sigext');
  const target = uniq('sigext-target');
  const sender = uniq('sigext-sender');
  const r = await env.withWorker({ taskQueue }, async () => {
    const t = await env.client.workflow.start('collect', { taskQueue, workflowId: target, args: [1] });
    assert.equal(await env.client.workflow.execute('signalOther', { taskQueue, workflowId: sender, args: [target, 'hi'] }), 'sent');
    return t.result();
  });
  assert.deepEqual(r, ['hi']);
  const h = await env.handle(sender).fetchHistory();
  const types = eventTypes(h);
  assert.equal(types.filter((t) => t === 'SignalExternalWorkflowExecutionInitiated').length, 1);
  assert.equal(types.filter((t) => t === 'ExternalWorkflowExecutionSignaled').length, 1);
  const th = await env.handle(target).fetchHistory();
  const sig = attrs(eventsOf(th, 'WorkflowExecutionSignaled')[0]);
  assert.equal(sig.externalWorkflowExecution?.workflowId, sender);
});

sdkTest('search attributes and memo: set at start, upserted, read by describe()', { todo: TODO.searchAttributes }, async () => {
  const taskQueue = uniq('sa');
  const workflowId = uniq('sa-wf');
  await env.withWorker({ taskQueue }, () =>
    env.client.workflow.execute('upsertAttrs', {
      taskQueue,
      workflowId,
      args: ['after'],
      memo: { owner: 'sdk-suite', n: 3 },
      searchAttributes: { CustomKeywordField: ['before'] },
    }),
  );
  const d = await env.handle(workflowId).describe();
  assert.deepEqual(d.memo, { owner: 'sdk-suite', n: 3 });
  assert.deepEqual(d.searchAttributes.CustomKeywordField, ['after']);
  const h = await env.handle(workflowId).fetchHistory();
  assert.equal(eventsOf(h, 'UpsertWorkflowSearchAttributes').length, 1);
});

sdkTest('patched(): the patch marker is recorded on first execution', { todo: TODO.patched }, async () => {
  const taskQueue = uniq('patch');
  const workflowId = uniq('patch-wf');
  const r = await env.withWorker({ taskQueue }, () => env.client.workflow.execute('patchedWorkflow', { taskQueue, workflowId }));
  assert.equal(r, 'new');
  const h = await env.handle(workflowId).fetchHistory();
  const markers = eventsOf(h, 'MarkerRecorded').map((e) => attrs(e).markerName);
  assert.deepEqual(markers, ['core_patch']);
});

sdkTest('a 1 MiB payload through a workflow and an activity', { todo: TODO.bigPayload }, async () => {
  const taskQueue = uniq('big');
  const workflowId = uniq('big-wf');
  let s = '';
  for (let i = 0; s.length < 1 << 20; i++) s += `${i.toString(36)}:`;
  s = s.slice(0, 1 << 20);
  let sum = 0;
  for (let i = 0; i < s.length; i += 997) sum = (sum + s.charCodeAt(i)) % 65521;
  const activities = { echo: async (x) => x };
  const r = await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('bigPayload', { taskQueue, workflowId, args: [s] }),
  );
  assert.deepEqual(r, { length: 1 << 20, sum });
});

sdkTest('list and count workflows with a visibility query', { todo: TODO.list }, async () => {
  const taskQueue = uniq('list');
  const ids = [uniq('list-a'), uniq('list-b'), uniq('list-c')];
  await env.withWorker({ taskQueue, activities: { greet: async (n) => n } }, () =>
    Promise.all(ids.map((workflowId) => env.client.workflow.execute('hello', { taskQueue, workflowId, args: ['l'] }))),
  );
  const query = `TaskQueue = '${taskQueue}'`;
  // visibility is written after the close (eventually consistent, as Temporal's): wait for it
  let seen = [];
  await waitFor(async () => {
    seen = [];
    for await (const w of env.client.workflow.list({ query })) seen.push(w);
    return seen.length === 3 && seen.every((w) => w.status.name === 'COMPLETED');
  });
  assert.deepEqual(seen.map((w) => w.workflowId).sort(), [...ids].sort());
  assert.ok(seen.every((w) => w.status.name === 'COMPLETED' && w.type === 'hello'));
  const c = await env.client.workflow.count(query);
  assert.equal(c.count, 3);
});
