// SPDX-License-Identifier: Apache-2.0
// Worker shutdown against a real temporald: the namespace advertises the
// worker_poll_complete_on_shutdown capability (Temporal's
// frontend.enableCancelWorkerPollsOnShutdown), so sdk-core lets its outstanding polls run on
// shutdown and relies on ShutdownWorker to complete them; ShutdownWorker answers every poll of
// that worker (same worker_instance_key) at once with an empty response and refuses its late
// polls the same way, and leaves other workers' polls alone. Run by test/sdk/run.sh with
// `node --test`.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { useTemporald, sdkTest, sdkProto, uniq } from './harness.mjs';

const env = useTemporald();
const enums = sdkProto.temporal.api.enums.v1;

// A raw activity poll for worker `key`, with a deadline well past the long poll (60 s), so only
// the server can end it early. Resolves to { resp } or { err }; `settled` tells whether it has.
function activityPoll(taskQueue, key) {
  const p = { settled: false };
  p.done = env.connection
    .withDeadline(Date.now() + 90000, () =>
      env.client.workflowService.pollActivityTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueue, kind: enums.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        identity: `poller-${key.slice(0, 8)}`,
        workerInstanceKey: key,
      }),
    )
    .then(
      (resp) => ({ resp }),
      (err) => ({ err }),
    )
    .finally(() => (p.settled = true));
  return p;
}

// Resolves with the poll's outcome, or rejects after `ms` (the long poll lasts 60 s).
function within(p, ms, what) {
  let timer;
  return Promise.race([
    p.done,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

function shutdownWorker(taskQueue, key) {
  return env.client.workflowService.shutdownWorker({
    namespace: 'default',
    identity: `poller-${key.slice(0, 8)}`,
    reason: 'test',
    workerInstanceKey: key,
    taskQueue,
    taskQueueTypes: [enums.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY],
  });
}

sdkTest('namespaces advertise worker_poll_complete_on_shutdown', {}, async () => {
  const d = await env.client.workflowService.describeNamespace({ namespace: 'default' });
  assert.equal(d.namespaceInfo.capabilities.workerPollCompleteOnShutdown, true);
});

sdkTest('ShutdownWorker completes the worker’s outstanding polls at once, empty', { timeout: 120000 }, async () => {
  const taskQueue = uniq('shutdown');
  const key = randomUUID();
  const other = randomUUID();
  const mine = [activityPoll(taskQueue, key), activityPoll(taskQueue, key)];
  const theirs = activityPoll(taskQueue, other);
  // Let the polls reach matching (a poll answered before it waits would prove nothing).
  await new Promise((r) => setTimeout(r, 1000));
  assert.ok(!mine[0].settled && !mine[1].settled && !theirs.settled, 'the polls wait for a task');
  await shutdownWorker(taskQueue, key);
  for (const p of mine) {
    const { resp, err } = await within(p, 20000, 'a poll of the shut-down worker');
    assert.equal(err, undefined);
    assert.equal(resp.taskToken?.length ?? 0, 0, 'an empty response');
  }
  assert.equal(theirs.settled, false, 'another worker’s poll keeps waiting');
  // A late poll of the same worker is answered empty at once too.
  const late = activityPoll(taskQueue, key);
  const { resp } = await within(late, 20000, 'a late poll of the shut-down worker');
  assert.equal(resp.taskToken?.length ?? 0, 0);
  // The other worker's poll still takes work: its own shutdown ends it.
  await shutdownWorker(taskQueue, other);
  const r = await within(theirs, 20000, 'the other worker’s poll');
  assert.equal(r.err, undefined);
});

sdkTest('a real worker shuts down promptly with the capability on (its polls are completed)', { timeout: 120000 }, async () => {
  const taskQueue = uniq('shutdown-sdk');
  const w = await env.worker({ taskQueue, activities: { async noop() {} } });
  const run = w.run();
  // Let its pollers start their long polls.
  await new Promise((r) => setTimeout(r, 1500));
  w.shutdown();
  let timer;
  await Promise.race([
    run,
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('worker still running 30 s after shutdown (long polls last 60 s)')), 30000))),
  ]).finally(() => clearTimeout(timer));
  assert.equal(w.getState(), 'STOPPED');
});
