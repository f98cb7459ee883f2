// SPDX-License-Identifier: Apache-2.0
// Workflow lifecycle on a real temporald through the TypeScript SDK: cancellation, termination,
// recovery from a failed workflow task and from a timed-out one (a poller that never answers),
// and sticky fallback (the worker holding the workflow in its cache stops; a second worker
// finishes the workflow from full history). Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import {
  useTemporald,
  sdkTest,
  sdkClient,
  sdkProto,
  uniq,
  eventTypes,
  eventsOf,
  attrs,
  num,
  waitFor,
} from './harness.mjs';
import { TODO } from './todo.mjs';

const env = useTemporald();
const enums = sdkProto.temporal.api.enums.v1;

async function historyHas(handle, type) {
  return eventTypes(await handle.fetchHistory()).includes(type);
}

sdkTest('workflow cancellation', { todo: TODO.workflowCancel }, async () => {
  const taskQueue = uniq('wfcancel');
  const workflowId = uniq('wfcancel-wf');
  await env.withWorker({ taskQueue }, async () => {
    const handle = await env.client.workflow.start('sleeper', { taskQueue, workflowId });
    assert.ok(await waitFor(() => historyHas(handle, 'TimerStarted')), 'the workflow started its timer');
    await handle.cancel();
    await assert.rejects(handle.result(), (err) => {
      assert.ok(err instanceof sdkClient.WorkflowFailedError, `got ${err?.name}`);
      assert.equal(err.cause?.name, 'CancelledFailure');
      return true;
    });
    const d = await handle.describe();
    assert.equal(d.status.name, 'CANCELLED');
  });
  const h = await env.handle(workflowId).fetchHistory();
  const types = eventTypes(h);
  assert.equal(types.filter((t) => t === 'WorkflowExecutionCancelRequested').length, 1);
  assert.ok(types.indexOf('WorkflowExecutionCancelRequested') < types.indexOf('TimerCanceled'));
  assert.equal(types.at(-1), 'WorkflowExecutionCanceled');
  assert.equal(types.filter((t) => t === 'TimerFired').length, 0);
});

sdkTest('workflow termination', { todo: TODO.workflowTerminate }, async () => {
  const taskQueue = uniq('wfterm');
  const workflowId = uniq('wfterm-wf');
  await env.withWorker({ taskQueue }, async () => {
    const handle = await env.client.workflow.start('sleeper', { taskQueue, workflowId });
    assert.ok(await waitFor(() => historyHas(handle, 'TimerStarted')));
    await handle.terminate('enough sleeping');
    await assert.rejects(handle.result(), (err) => {
      assert.ok(err instanceof sdkClient.WorkflowFailedError, `got ${err?.name}`);
      assert.equal(err.cause?.name, 'TerminatedFailure');
      return true;
    });
    assert.equal((await handle.describe()).status.name, 'TERMINATED');
    // A terminated workflow accepts no more signals.
    await assert.rejects(handle.signal('add', 1), (err) => err instanceof sdkClient.WorkflowNotFoundError);
  });
  const h = await env.handle(workflowId).fetchHistory();
  const types = eventTypes(h);
  assert.equal(types.at(-1), 'WorkflowExecutionTerminated');
  assert.equal(attrs(h.events.at(-1)).reason, 'enough sleeping');
  assert.equal(types.filter((t) => t === 'WorkflowExecutionTerminated').length, 1);
});

sdkTest('a failed workflow task is retried and the workflow recovers', { todo: TODO.wftFailure }, async () => {
  const taskQueue = uniq('wftfail');
  const workflowId = uniq('wftfail-wf');
  const r = await env.withWorker({ taskQueue }, () =>
    env.client.workflow.execute('failFirstTask', { taskQueue, workflowId }),
  );
  assert.equal(r, 'recovered');
  const h = await env.handle(workflowId).fetchHistory();
  assert.deepEqual(eventTypes(h), [
    'WorkflowExecutionStarted',
    'WorkflowTaskScheduled',
    'WorkflowTaskStarted',
    'WorkflowTaskFailed',
    'WorkflowTaskScheduled',
    'WorkflowTaskStarted',
    'WorkflowTaskCompleted',
    'WorkflowExecutionCompleted',
  ]);
  const failed = attrs(h.events[3]);
  assert.equal(failed.cause, enums.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE);
  assert.match(failed.failure.message, /deliberate workflow task failure/);
  assert.equal(num(failed.scheduledEventId), 2);
  assert.equal(num(failed.startedEventId), 3);
  assert.equal(num(attrs(h.events[4]).attempt), 2);
});

sdkTest('a workflow task that times out on a slow worker is retried', { todo: TODO.wftTimeout }, async () => {
  const taskQueue = uniq('wftto');
  const workflowId = uniq('wftto-wf');
  const handle = await env.client.workflow.start('waitDone', { taskQueue, workflowId, workflowTaskTimeout: '1s' });
  // The slow worker: takes the first workflow task and never answers it.
  const poll = await env.connection.withDeadline(Date.now() + 20000, () =>
    env.client.workflowService.pollWorkflowTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      identity: 'slow-worker',
    }),
  );
  assert.ok(poll.taskToken?.length > 0, 'the slow worker got the first task');
  assert.equal(poll.workflowExecution.workflowId, workflowId);
  const t0 = Date.now();
  const r = await env.withWorker({ taskQueue }, async () => {
    assert.ok(await waitFor(() => historyHas(handle, 'WorkflowTaskCompleted'), 15000), 'the retried task completed');
    await handle.signal('done');
    return handle.result();
  });
  assert.equal(r, 'done');
  assert.ok(Date.now() - t0 >= 500, 'the retry waited for the timeout');
  const h = await handle.fetchHistory();
  const types = eventTypes(h);
  assert.deepEqual(types.slice(0, 7), [
    'WorkflowExecutionStarted',
    'WorkflowTaskScheduled',
    'WorkflowTaskStarted',
    'WorkflowTaskTimedOut',
    'WorkflowTaskScheduled',
    'WorkflowTaskStarted',
    'WorkflowTaskCompleted',
  ]);
  assert.equal(attrs(h.events[2]).identity, 'slow-worker');
  assert.equal(attrs(h.events[3]).timeoutType, enums.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE);
  assert.equal(num(attrs(h.events[4]).attempt), 2);
  // The slow worker's late answer is refused.
  await assert.rejects(
    env.client.workflowService.respondWorkflowTaskCompleted({
      namespace: 'default',
      taskToken: poll.taskToken,
      identity: 'slow-worker',
      commands: [],
    }),
    (err) => err.code === 5 /* NOT_FOUND */,
  );
  assert.equal((await handle.fetchHistory()).events.length, h.events.length, 'the late answer added nothing');
});

sdkTest('sticky fallback: a second worker finishes the workflow after the first stops', { todo: TODO.sticky }, async () => {
  const taskQueue = uniq('sticky');
  const workflowId = uniq('sticky-wf');
  const a = await env.worker({ taskQueue, identity: 'worker-A' });
  const handle = await a.runUntil(async () => {
    const hd = await env.client.workflow.start('waitDone', { taskQueue, workflowId });
    assert.ok(await waitFor(() => historyHas(hd, 'WorkflowTaskCompleted')), 'worker A completed the first task');
    return hd;
  });
  // Worker A is shut down; its sticky queue has nobody polling it now.
  await handle.signal('done');
  const t0 = Date.now();
  const r = await env.withWorker({ taskQueue, identity: 'worker-B' }, () => handle.result());
  assert.equal(r, 'done');
  const took = Date.now() - t0;
  assert.ok(took < 15000, `fallback took ${took} ms`);
  const h = await handle.fetchHistory();
  const completions = eventsOf(h, 'WorkflowTaskCompleted').map((e) => attrs(e).identity);
  assert.equal(completions[0], 'worker-A');
  assert.equal(completions.at(-1), 'worker-B');
  const firstStarted = attrs(eventsOf(h, 'WorkflowTaskStarted')[0]);
  assert.equal(firstStarted.identity, 'worker-A');
  assert.equal(eventTypes(h).at(-1), 'WorkflowExecutionCompleted');
  const sched = eventsOf(h, 'WorkflowTaskScheduled').map((e) => attrs(e));
  assert.ok(sched.length >= 2);
  // The first task went to the normal queue (later ones may have gone to A's sticky queue).
  assert.equal(sched[0].taskQueue.name, taskQueue);
});

sdkTest('reset to the first workflow task: a new run replays up to it and runs the rest again', { todo: TODO.reset }, async () => {
  const taskQueue = uniq('reset');
  const workflowId = uniq('reset-wf');
  const calls = [];
  const activities = { greet: async (n) => (calls.push(n), `Hello, ${n}! (${calls.length})`) };
  await env.withWorker({ taskQueue, activities }, async () => {
    const first = await env.client.workflow.start('hello', { taskQueue, workflowId, args: ['again'] });
    assert.equal(await first.result(), 'Hello, again! (1)');
    const resp = await env.client.workflowService.resetWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId, runId: first.firstExecutionRunId },
      reason: 'sdk suite',
      workflowTaskFinishEventId: 4,
      requestId: uniq('reset-req'),
    });
    assert.ok(resp.runId && resp.runId !== first.firstExecutionRunId);
    assert.equal(await env.handle(workflowId, resp.runId).result(), 'Hello, again! (2)');
    const h = await env.handle(workflowId, resp.runId).fetchHistory();
    const types = eventTypes(h);
    assert.deepEqual(types.slice(0, 4), ['WorkflowExecutionStarted', 'WorkflowTaskScheduled', 'WorkflowTaskStarted', 'WorkflowTaskFailed']);
    assert.equal(attrs(h.events[3]).cause, enums.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW);
    assert.equal(types.at(-1), 'WorkflowExecutionCompleted');
    const d = await env.handle(workflowId).describe();
    assert.equal(d.runId, resp.runId);
  });
  assert.deepEqual(calls, ['again', 'again']);
});
