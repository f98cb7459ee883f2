// SPDX-License-Identifier: Apache-2.0
// Workflows made of workflows, on a real temporald through the TypeScript SDK: a child workflow
// (started, completed, its result delivered to the parent) and continue-as-new (a chain of runs
// followed by the client to the last result). Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, uniq, eventTypes, eventsOf, attrs, num, payloadValue, waitFor } from './harness.mjs';
import { TODO } from './todo.mjs';

const env = useTemporald();

sdkTest('child workflow: started, completed, result delivered to the parent', { todo: TODO.childWorkflow, timeout: 20000 }, async () => {
  const taskQueue = uniq('child');
  const workflowId = uniq('child-wf');
  const activities = { greet: async (n) => `Hello, ${n}!` };
  const r = await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('parent', { taskQueue, workflowId, args: ['kid'] }),
  );
  assert.deepEqual(r, { child: `${workflowId}-child`, result: 'Hello, kid!' });
  const h = await env.handle(workflowId).fetchHistory();
  const types = eventTypes(h);
  for (const t of ['StartChildWorkflowExecutionInitiated', 'ChildWorkflowExecutionStarted', 'ChildWorkflowExecutionCompleted']) {
    assert.equal(types.filter((x) => x === t).length, 1, t);
  }
  const init = eventsOf(h, 'StartChildWorkflowExecutionInitiated')[0];
  const done = attrs(eventsOf(h, 'ChildWorkflowExecutionCompleted')[0]);
  assert.equal(num(done.initiatedEventId), num(init.eventId));
  assert.equal(done.workflowExecution.workflowId, `${workflowId}-child`);
  assert.equal(payloadValue(done.result), 'Hello, kid!');
  const ch = await env.handle(`${workflowId}-child`).fetchHistory();
  const started = attrs(ch.events[0]);
  assert.equal(started.parentWorkflowExecution?.workflowId, workflowId);
  assert.equal(num(started.parentInitiatedEventId), num(init.eventId));
  assert.equal(eventTypes(ch).at(-1), 'WorkflowExecutionCompleted');
});

sdkTest('continue-as-new: the client follows the chain of runs to the result', { todo: TODO.continueAsNew, timeout: 20000 }, async () => {
  const taskQueue = uniq('can');
  const workflowId = uniq('can-wf');
  const { handle, r } = await env.withWorker({ taskQueue }, async () => {
    const hd = await env.client.workflow.start('countdown', { taskQueue, workflowId, args: [4, 0, 0] });
    return { handle: hd, r: await hd.result() };
  });
  assert.deepEqual(r, { total: 10, runs: 5 });
  const first = await env.handle(workflowId, handle.firstExecutionRunId).fetchHistory();
  assert.equal(eventTypes(first).at(-1), 'WorkflowExecutionContinuedAsNew');
  const next = attrs(first.events.at(-1)).newExecutionRunId;
  assert.ok(next && next !== handle.firstExecutionRunId);
  const second = await env.handle(workflowId, next).fetchHistory();
  const s = attrs(second.events[0]);
  assert.equal(s.continuedExecutionRunId, handle.firstExecutionRunId);
  assert.equal(s.firstExecutionRunId, handle.firstExecutionRunId);
  assert.deepEqual(s.input.payloads.map((p) => payloadValue({ payloads: [p] })), [3, 4, 1]);
  const d = await env.handle(workflowId).describe();
  assert.equal(d.status.name, 'COMPLETED');
  assert.notEqual(d.runId, handle.firstExecutionRunId, 'the latest run is the current one');
});

sdkTest('a workflow asks another to cancel itself', { todo: TODO.cancelExternal, timeout: 20000 }, async () => {
  const taskQueue = uniq('cancelext');
  const target = uniq('cancelext-target');
  const sender = uniq('cancelext-sender');
  await env.withWorker({ taskQueue }, async () => {
    const t = await env.client.workflow.start('sleeper', { taskQueue, workflowId: target });
    assert.equal(await env.client.workflow.execute('cancelOther', { taskQueue, workflowId: sender, args: [target] }), 'requested');
    await assert.rejects(t.result(), (err) => err.cause?.name === 'CancelledFailure');
  });
  const h = await env.handle(sender).fetchHistory();
  const types = eventTypes(h);
  assert.equal(types.filter((t) => t === 'RequestCancelExternalWorkflowExecutionInitiated').length, 1);
  assert.equal(types.filter((t) => t === 'ExternalWorkflowExecutionCancelRequested').length, 1);
  const th = await env.handle(target).fetchHistory();
  const req = attrs(eventsOf(th, 'WorkflowExecutionCancelRequested')[0]);
  assert.equal(req.externalWorkflowExecution?.workflowId, sender);
});

sdkTest('cancelling a parent cancels its child', { todo: TODO.childCancel, timeout: 30000 }, async () => {
  const taskQueue = uniq('childcancel');
  const workflowId = uniq('childcancel-wf');
  const r = await env.withWorker({ taskQueue }, async () => {
    const p = await env.client.workflow.start('parentOfSleeper', { taskQueue, workflowId });
    const child = env.handle(`${workflowId}-child`);
    assert.ok(await waitFor(async () => {
      try {
        return eventTypes(await child.fetchHistory()).includes('TimerStarted');
      } catch {
        return false;
      }
    }), 'the child is running');
    await p.cancel();
    return p.result().catch((err) => `parent failed: ${err.cause?.name}`);
  });
  // The SDK cancels the child when the parent's scope is cancelled; the parent reports it.
  assert.ok(['cancelled: CancelledFailure', 'parent failed: CancelledFailure'].includes(r), r);
  assert.equal((await env.handle(`${workflowId}-child`).describe()).status.name, 'CANCELLED');
  const h = await env.handle(workflowId).fetchHistory();
  assert.equal(eventsOf(h, 'ChildWorkflowExecutionCanceled').length, 1);
});
