// SPDX-License-Identifier: Apache-2.0
// Per-run limits with Temporal's dynamic config names, lowered for this server so the tests stay
// small: pending activities / child workflows / signals / cancel requests per run (a command past
// the limit fails the workflow task with Temporal's cause and message), signals per execution
// (InvalidArgument), history count and size (the run is terminated by "history-service" with
// Temporal's reason, the call that crossed the limit answered InvalidArgument, and the warning
// limits logged), the blob size warning and error limits on request payloads, and the
// suggest-continue-as-new threshold. Run by test/sdk/run.sh with
// `node --test`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useTemporald, sdkTest, sdkProto, uniq, eventTypes, eventsOf, attrs, waitFor } from './harness.mjs';

const dyn = {
  'limit.numPendingActivities.error': 3,
  'limit.numPendingChildExecutions.error': 2,
  'limit.numPendingSignals.error': 2,
  'limit.numPendingCancelRequests.error': 2,
  'history.maximumSignalsPerExecution': 5,
  'limit.historyCount.warn': 40,
  'limit.historyCount.error': 80,
  'limit.historySize.warn': 30000,
  'limit.historySize.error': 60000,
  'limit.historyCount.suggestContinueAsNew': 12,
  'limit.blobSize.warn': 20000,
  'limit.blobSize.error': 50000,
};
const env = useTemporald({ args: Object.entries(dyn).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${v}`]) });
const enums = sdkProto.temporal.api.enums.v1;
const INVALID_ARGUMENT = 3;
const activities = { greet: async (n) => `Hello, ${n}!` };

// Runs `type` on a worker until its history holds a WorkflowTaskFailed event; returns that
// event's attributes, then terminates the workflow.
async function failedTask(type, args, workflowId = uniq(type)) {
  const taskQueue = uniq(`${type}-q`);
  return await env.withWorker({ taskQueue, activities }, async () => {
    const handle = await env.client.workflow.start(type, { taskQueue, workflowId, args });
    let failed;
    await waitFor(async () => {
      failed = eventsOf(await handle.fetchHistory(), 'WorkflowTaskFailed')[0];
      return failed;
    }, 20000);
    await handle.terminate('test over').catch(() => {});
    assert.ok(failed, `${type}: no WorkflowTaskFailed event`);
    return attrs(failed);
  });
}

const cause = (a) => enums.WorkflowTaskFailedCause[a.cause] ?? a.cause;

sdkTest('pending activities past limit.numPendingActivities.error fail the workflow task', {}, async () => {
  const a = await failedTask('manyActivities', [5]);
  assert.equal(cause(a), 'WORKFLOW_TASK_FAILED_CAUSE_PENDING_ACTIVITIES_LIMIT_EXCEEDED');
  assert.match(a.failure.message, /the number of pending activities, 3, has reached the per-workflow limit of 3/);
});

sdkTest('pending child workflows past limit.numPendingChildExecutions.error fail the workflow task', {}, async () => {
  const id = uniq('children');
  const a = await failedTask('manyChildren', [4], id);
  assert.equal(cause(a), 'WORKFLOW_TASK_FAILED_CAUSE_PENDING_CHILD_WORKFLOWS_LIMIT_EXCEEDED');
  assert.match(a.failure.message, /the number of pending child workflow executions, 2, has reached the per-workflow limit of 2/);
});

sdkTest('pending signals and cancel requests to other workflows past their limits fail the workflow task', {}, async () => {
  const target = uniq('target');
  await env.client.workflow.start('sleeper', { taskQueue: uniq('nobody'), workflowId: target });
  const s = await failedTask('manySignalsOut', [target, 4]);
  assert.equal(cause(s), 'WORKFLOW_TASK_FAILED_CAUSE_PENDING_SIGNALS_LIMIT_EXCEEDED');
  assert.match(s.failure.message, /the number of pending signals to external workflows, 2, has reached the per-workflow limit of 2/);
  const c = await failedTask('manyCancelsOut', [[target, `${target}-x`, `${target}-y`]]);
  assert.equal(cause(c), 'WORKFLOW_TASK_FAILED_CAUSE_PENDING_REQUEST_CANCEL_LIMIT_EXCEEDED');
  assert.match(c.failure.message, /the number of pending requests to cancel external workflows, 2, has reached the per-workflow limit of 2/);
  await env.handle(target).terminate('test over');
});

sdkTest('signals past history.maximumSignalsPerExecution answer InvalidArgument', {}, async () => {
  const workflowId = uniq('signals');
  const handle = await env.client.workflow.start('sleeper', { taskQueue: uniq('nobody'), workflowId });
  for (let i = 0; i < 5; i++) await handle.signal('add', i);
  await assert.rejects(handle.signal('add', 5), (err) => {
    const e = err.cause ?? err;
    assert.equal(e.code, INVALID_ARGUMENT, `got ${e.code} ${e.message}`);
    assert.match(e.message, /exceeded workflow execution limit for signal events/);
    return true;
  });
  const h = await handle.fetchHistory();
  assert.equal(eventsOf(h, 'WorkflowExecutionSignaled').length, 5);
  assert.equal((await handle.describe()).status.name, 'RUNNING');
  // A signal from another workflow fails there with Temporal's SIGNAL_COUNT_LIMIT_EXCEEDED.
  const taskQueue = uniq('sigout-q');
  const senderId = uniq('sender');
  await env.withWorker({ taskQueue, activities }, async () => {
    await assert.rejects(env.client.workflow.execute('signalOther', { taskQueue, workflowId: senderId, args: [workflowId, 9] }));
  });
  const sh = await env.handle(senderId).fetchHistory();
  const f = eventsOf(sh, 'SignalExternalWorkflowExecutionFailed');
  assert.equal(f.length, 1);
  assert.equal(enums.SignalExternalWorkflowExecutionFailedCause[attrs(f[0]).cause] ?? attrs(f[0]).cause, 'SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_SIGNAL_COUNT_LIMIT_EXCEEDED');
  await handle.terminate('test over');
});

sdkTest('a history past limit.historyCount.error terminates the run with Temporal reason', {}, async () => {
  const taskQueue = uniq('count-q');
  const workflowId = uniq('count');
  // 100 timers at once: their workflow task completion would take the history past 80 events.
  await env.withWorker({ taskQueue, activities }, async () => {
    const handle = await env.client.workflow.start('manyTimers', { taskQueue, workflowId, args: [100] });
    await assert.rejects(handle.result(), (err) => err.cause?.name === 'TerminatedFailure');
  });
  const h = await env.handle(workflowId).fetchHistory();
  const last = h.events.at(-1);
  assert.equal(eventTypes(h).at(-1), 'WorkflowExecutionTerminated');
  assert.equal(attrs(last).reason, 'Workflow history count exceeds limit.');
  assert.equal(attrs(last).identity, 'history-service');
  assert.ok(h.events.length <= 80, `${h.events.length} events: the completion that crossed the limit was not written`);
  assert.equal(eventsOf(h, 'TimerStarted').length, 0);
  assert.equal((await env.handle(workflowId).describe()).status.name, 'TERMINATED');
});

sdkTest('a history past limit.historySize.error terminates the run; the warning limits are logged', {}, async () => {
  const workflowId = uniq('size');
  const handle = await env.client.workflow.start('sleeper', { taskQueue: uniq('nobody'), workflowId });
  const blob = 'x'.repeat(20000);
  await handle.signal('add', blob); // ~20 KB
  await handle.signal('add', blob); // ~40 KB: past the 30,000-byte warning
  await assert.rejects(handle.signal('add', blob), (err) => {
    const e = err.cause ?? err;
    assert.equal(e.code, INVALID_ARGUMENT, `got ${e.code} ${e.message}`);
    assert.match(e.message, /Workflow history size exceeds limit\./);
    return true;
  });
  const h = await handle.fetchHistory();
  assert.equal(eventsOf(h, 'WorkflowExecutionSignaled').length, 2);
  assert.equal(attrs(h.events.at(-1)).reason, 'Workflow history size exceeds limit.');
  assert.equal(attrs(h.events.at(-1)).identity, 'history-service');
  assert.equal((await handle.describe()).status.name, 'TERMINATED');
  const log = readFileSync(env.server.logFile, 'utf8');
  assert.match(log, new RegExp(`${workflowId}/\\S+: history size \\d+ bytes exceeds limit.historySize.warn \\(30000\\)`));
  assert.match(log, /exceeds limit\.historySize\.error \(60000\): terminating the run/);
});

sdkTest('limit.historyCount.suggestContinueAsNew sets the suggestion in the workflow task', {}, async () => {
  const taskQueue = uniq('can-q');
  const r = await env.withWorker({ taskQueue, activities }, async () => ({
    early: await env.client.workflow.execute('suggestedCAN', { taskQueue, workflowId: uniq('can'), args: [1] }),
    late: await env.client.workflow.execute('suggestedCAN', { taskQueue, workflowId: uniq('can'), args: [4] }),
  }));
  assert.deepEqual(r, { early: false, late: true });
});

sdkTest('payloads past limit.blobSize.warn are logged, past limit.blobSize.error refused', {}, async () => {
  // (workflow task commands past the error limit are refused by the SDK itself, which reads the
  // limit from DescribeNamespace; the server side of that is tested in history_ms_limits_test.c)
  const target = await env.client.workflow.start('sleeper', { taskQueue: uniq('nobody'), workflowId: uniq('blobsig') });
  await target.signal('add', 'y'.repeat(25000));
  assert.match(readFileSync(env.server.logFile, 'utf8'), /a payload of \d+ bytes exceeds limit\.blobSize\.warn \(20000\)/);
  await assert.rejects(target.signal('add', 'y'.repeat(55000)), (err) => /Blob data size exceeds limit/.test((err.cause ?? err).message));
  await target.terminate('test over');
});
