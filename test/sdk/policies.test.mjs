// SPDX-License-Identifier: Apache-2.0
// Start options and policies on a real temporald through the TypeScript SDK: workflow id
// conflict and reuse policies, signal-with-start on a closed workflow, a delayed start,
// workflow-level retries and cron schedules. Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, sdkClient, uniq, eventTypes, eventsOf, attrs, num, payloadValue } from './harness.mjs';
import { TODO } from './todo.mjs';

const env = useTemporald();

sdkTest('id conflict policy USE_EXISTING returns the running run', { todo: TODO.conflictPolicy }, async () => {
  const taskQueue = uniq('conflict');
  const workflowId = uniq('conflict-wf');
  const a = await env.client.workflow.start('sleeper', { taskQueue, workflowId });
  const b = await env.client.workflow.start('sleeper', { taskQueue, workflowId, workflowIdConflictPolicy: 'USE_EXISTING' });
  assert.equal(b.firstExecutionRunId, a.firstExecutionRunId);
  // TERMINATE_EXISTING replaces it with a new run.
  const c = await env.client.workflow.start('sleeper', { taskQueue, workflowId, workflowIdConflictPolicy: 'TERMINATE_EXISTING' });
  assert.notEqual(c.firstExecutionRunId, a.firstExecutionRunId);
  assert.equal((await env.handle(workflowId, a.firstExecutionRunId).describe()).status.name, 'TERMINATED');
  assert.equal((await env.handle(workflowId).describe()).runId, c.firstExecutionRunId);
  await c.terminate('test done');
});

sdkTest('id reuse policy REJECT_DUPLICATE refuses a closed id', { todo: TODO.reusePolicy }, async () => {
  const taskQueue = uniq('reuse');
  const workflowId = uniq('reuse-wf');
  const a = await env.client.workflow.start('sleeper', { taskQueue, workflowId });
  await a.terminate('closed');
  await assert.rejects(
    env.client.workflow.start('sleeper', { taskQueue, workflowId, workflowIdReusePolicy: 'REJECT_DUPLICATE' }),
    (err) => err instanceof sdkClient.WorkflowExecutionAlreadyStartedError,
  );
  // ALLOW_DUPLICATE_FAILED_ONLY accepts it after a termination (terminated counts as failed).
  const b = await env.client.workflow.start('sleeper', { taskQueue, workflowId, workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY' });
  assert.notEqual(b.firstExecutionRunId, a.firstExecutionRunId);
  await b.terminate('test done');
});

sdkTest('signal-with-start on a closed workflow starts a new run', { todo: TODO.signalWithStartClosed }, async () => {
  const taskQueue = uniq('swsc');
  const workflowId = uniq('swsc-wf');
  const opts = { taskQueue, workflowId, args: [1], signal: 'add' };
  const r = await env.withWorker({ taskQueue }, async () => {
    const h1 = await env.client.workflow.signalWithStart('collect', { ...opts, signalArgs: ['first'] });
    assert.deepEqual(await h1.result(), ['first']);
    const h2 = await env.client.workflow.signalWithStart('collect', { ...opts, signalArgs: ['second'] });
    assert.notEqual(h2.signaledRunId, h1.signaledRunId);
    return env.handle(workflowId).result();
  });
  assert.deepEqual(r, ['second']);
});

sdkTest('a delayed start: the first workflow task waits for the delay', { todo: TODO.startDelay }, async () => {
  const taskQueue = uniq('delay');
  const workflowId = uniq('delay-wf');
  const activities = { greet: async (n) => `Hello, ${n}!` };
  const t0 = Date.now();
  const r = await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('hello', { taskQueue, workflowId, args: ['later'], startDelay: '1500ms' }),
  );
  assert.equal(r, 'Hello, later!');
  assert.ok(Date.now() - t0 >= 1400, `finished after ${Date.now() - t0} ms`);
  const h = await env.handle(workflowId).fetchHistory();
  const s = attrs(h.events[0]);
  assert.equal(num(s.firstWorkflowTaskBackoff?.seconds), 1);
  assert.equal(s.firstWorkflowTaskBackoff?.nanos, 500e6);
  assert.equal(eventTypes(h)[1], 'WorkflowTaskScheduled');
});

sdkTest('workflow-level retries: a failed run is retried as a new run', { todo: TODO.workflowRetry, timeout: 30000 }, async () => {
  const taskQueue = uniq('wfretry');
  const workflowId = uniq('wfretry-wf');
  const { handle, r } = await env.withWorker({ taskQueue }, async () => {
    const hd = await env.client.workflow.start('failRuns', {
      taskQueue,
      workflowId,
      args: [2],
      retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 5 },
    });
    return { handle: hd, r: await hd.result() };
  });
  assert.equal(r, 3);
  const first = await env.handle(workflowId, handle.firstExecutionRunId).fetchHistory();
  assert.equal(eventTypes(first).at(-1), 'WorkflowExecutionFailed');
  const f = attrs(first.events.at(-1));
  assert.ok(f.newExecutionRunId, 'the failed run names its successor');
  const second = await env.handle(workflowId, f.newExecutionRunId).fetchHistory();
  assert.equal(num(attrs(second.events[0]).attempt), 2);
  assert.equal(attrs(second.events[0]).continuedFailure?.message, 'run attempt 1 fails');
});

sdkTest('cron schedule: runs repeat and see the last result', { todo: TODO.cron, timeout: 30000 }, async () => {
  const taskQueue = uniq('cron');
  const workflowId = uniq('cron-wf');
  await env.withWorker({ taskQueue }, async () => {
    const hd = await env.client.workflow.start('cronCount', { taskQueue, workflowId, cronSchedule: '@every 1s' });
    const runs = await (async () => {
      for (let i = 0; i < 100; i++) {
        const d = await hd.describe();
        if (d.runId !== hd.firstExecutionRunId) {
          const h = await env.handle(workflowId, hd.firstExecutionRunId).fetchHistory();
          return eventsOf(h, 'WorkflowExecutionCompleted').length;
        }
        await new Promise((res) => setTimeout(res, 200));
      }
      return 0;
    })();
    assert.equal(runs, 1, 'the first run completed and a second one started');
    const next = await env.handle(workflowId).fetchHistory();
    const st = attrs(next.events[0]);
    assert.equal(st.continuedExecutionRunId, hd.firstExecutionRunId);
    assert.equal(payloadValue(st.lastCompletionResult), 1, 'the second run sees the first result');
    assert.ok(num(st.firstWorkflowTaskBackoff?.seconds) <= 1);
    await env.handle(workflowId).terminate('test done');
  });
});
