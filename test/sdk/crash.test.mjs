// SPDX-License-Identifier: Apache-2.0
// Worker crashes against a real temporald: a worker in its own process (worker-proc.mjs) is
// killed with SIGKILL, so it never says goodbye (no ShutdownWorker, no answers to its tasks).
// A workflow cached on its sticky queue must move to a second worker after the sticky
// schedule-to-start timeout, and an activity it was running must be retried on the second
// worker after its heartbeat timeout. Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import {
  useTemporald,
  sdkTest,
  sdkActivity,
  sdkProto,
  uniq,
  eventTypes,
  eventsOf,
  attrs,
  num,
  waitFor,
  startWorkerProc as startWorkerProcAt,
  killWorkerProc,
} from './harness.mjs';
import { TODO } from './todo.mjs';

const env = useTemporald();
const enums = sdkProto.temporal.api.enums.v1;
const startWorkerProc = (taskQueue, identity) => startWorkerProcAt(env.server.address, taskQueue, identity);
const killProc = killWorkerProc;

async function historyHas(handle, type) {
  return eventTypes(await handle.fetchHistory()).includes(type);
}

sdkTest('sticky fallback after the worker holding the workflow is killed', { todo: TODO.stickyKill, timeout: 90000 }, async () => {
  const taskQueue = uniq('stickykill');
  const workflowId = uniq('stickykill-wf');
  const a = await startWorkerProc(taskQueue, 'proc-A');
  let handle;
  try {
    handle = await env.client.workflow.start('waitDone', { taskQueue, workflowId });
    assert.ok(await waitFor(() => historyHas(handle, 'WorkflowTaskCompleted'), 30000), 'worker A completed the first task');
  } finally {
    await killProc(a);
  }
  await handle.signal('done');
  const t0 = Date.now();
  const r = await env.withWorker({ taskQueue, identity: 'worker-B' }, () => handle.result());
  assert.equal(r, 'done');
  const took = Date.now() - t0;
  assert.ok(took < 20000, `fallback took ${took} ms`);
  const h = await handle.fetchHistory();
  const completions = eventsOf(h, 'WorkflowTaskCompleted').map((e) => attrs(e).identity);
  assert.equal(completions[0], 'proc-A');
  assert.equal(completions.at(-1), 'worker-B');
  // The task offered on A's sticky queue timed out (schedule-to-start), then went to the normal queue.
  const timedOut = eventsOf(h, 'WorkflowTaskTimedOut').map((e) => attrs(e).timeoutType);
  assert.deepEqual(timedOut, [enums.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START]);
  const sched = eventsOf(h, 'WorkflowTaskScheduled').map((e) => attrs(e).taskQueue);
  assert.equal(sched[1].kind, enums.TaskQueueKind.TASK_QUEUE_KIND_STICKY);
  assert.equal(sched.at(-1).name, taskQueue);
  assert.equal(sched.at(-1).kind, enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL);
});

sdkTest('an activity on a killed worker is retried on another worker', { todo: TODO.activityWorkerKill, timeout: 90000 }, async () => {
  const taskQueue = uniq('actkill');
  const workflowId = uniq('actkill-wf');
  const a = await startWorkerProc(taskQueue, 'proc-A');
  let handle;
  try {
    handle = await env.client.workflow.start('survivor', { taskQueue, workflowId, args: ['k'] });
    assert.ok(await waitFor(() => a.lines.includes('spinning k'), 30000), 'worker A runs the activity');
  } finally {
    await killProc(a);
  }
  const activities = {
    async spin(key) {
      return `B finished ${key} on attempt ${sdkActivity.Context.current().info.attempt}`;
    },
  };
  const r = await env.withWorker({ taskQueue, activities, identity: 'worker-B' }, () => handle.result());
  assert.equal(r, 'B finished k on attempt 2');
  const h = await handle.fetchHistory();
  const started = attrs(eventsOf(h, 'ActivityTaskStarted')[0]);
  assert.equal(num(started.attempt), 2);
  assert.equal(started.identity, 'worker-B');
  assert.equal(started.lastFailure?.timeoutFailureInfo?.timeoutType, enums.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
  assert.equal(eventsOf(h, 'ActivityTaskCompleted').length, 1);
});
