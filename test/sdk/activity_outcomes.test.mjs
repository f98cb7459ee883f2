// SPDX-License-Identifier: Apache-2.0
// How an activity ends when it is not retried, as the workflow sees it through the TypeScript
// SDK's ActivityFailure and as the history records it: the retry state Temporal reports
// (NON_RETRYABLE_FAILURE for a non-retryable failure or a type listed in
// nonRetryableErrorTypes, even on the last allowed attempt; MAXIMUM_ATTEMPTS_REACHED; TIMEOUT
// for a schedule-to-start / schedule-to-close deadline and when no time is left for another
// attempt, which reads as SCHEDULE_TO_CLOSE), and the timeout type of an activity nobody
// picked up (SCHEDULE_TO_START, with schedule-to-start defaulted from schedule-to-close). Run
// by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, sdkActivity, sdkProto, uniq, eventsOf, attrs } from './harness.mjs';

const env = useTemporald();
const enums = sdkProto.temporal.api.enums.v1;
const { ApplicationFailure } = sdkActivity;

// Runs activityOutcome(name, options) with `activities` on a worker; returns the workflow's
// summary and the attributes of the activity's closing event (ActivityTaskFailed/TimedOut).
async function outcome(activities, name, options, { closing = 'ActivityTaskFailed', worker = true } = {}) {
  const taskQueue = uniq('outcome');
  const workflowId = uniq('outcome-wf');
  const run = () => env.client.workflow.execute('activityOutcome', { taskQueue, workflowId, args: [name, options, []] });
  const r = worker ? await env.withWorker({ taskQueue, activities }, run) : await run();
  const h = await env.handle(workflowId).fetchHistory();
  const closed = eventsOf(h, closing);
  assert.equal(closed.length, 1, `one ${closing} event`);
  return { r, ev: attrs(closed[0]) };
}

sdkTest('a non-retryable failure on the last allowed attempt: NON_RETRYABLE_FAILURE', {}, async () => {
  let runs = 0;
  const activities = {
    async refuse() {
      runs++;
      throw ApplicationFailure.nonRetryable('no point retrying', 'Refused');
    },
  };
  const { r, ev } = await outcome(activities, 'refuse', { startToCloseTimeout: '10s', retry: { maximumAttempts: 1 } });
  assert.equal(runs, 1);
  assert.equal(r.name, 'ActivityFailure');
  assert.equal(r.retryState, 'NON_RETRYABLE_FAILURE');
  assert.equal(r.causeType, 'Refused');
  assert.equal(ev.retryState, enums.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE);
});

sdkTest('a failure type listed in nonRetryableErrorTypes: NON_RETRYABLE_FAILURE', {}, async () => {
  let runs = 0;
  const activities = {
    async listed() {
      runs++;
      throw ApplicationFailure.retryable('listed as non-retryable', 'ListedError');
    },
  };
  for (const maximumAttempts of [1, 5]) {
    runs = 0;
    const { r, ev } = await outcome(activities, 'listed', {
      startToCloseTimeout: '10s',
      retry: { maximumAttempts, initialInterval: '50ms', nonRetryableErrorTypes: ['ListedError'] },
    });
    assert.equal(runs, 1, `maximumAttempts ${maximumAttempts}: one run`);
    assert.equal(r.retryState, 'NON_RETRYABLE_FAILURE', `maximumAttempts ${maximumAttempts}`);
    assert.equal(ev.retryState, enums.RetryState.RETRY_STATE_NON_RETRYABLE_FAILURE);
  }
});

sdkTest('retryable failures until the attempts run out: MAXIMUM_ATTEMPTS_REACHED', {}, async () => {
  let runs = 0;
  const activities = {
    async flaky() {
      runs++;
      throw ApplicationFailure.retryable(`run ${runs} fails`, 'Flaky');
    },
  };
  const { r, ev } = await outcome(activities, 'flaky', {
    startToCloseTimeout: '10s',
    retry: { maximumAttempts: 2, initialInterval: '50ms' },
  });
  assert.equal(runs, 2);
  assert.equal(r.retryState, 'MAXIMUM_ATTEMPTS_REACHED');
  assert.equal(ev.retryState, enums.RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
});

sdkTest('no time left for another attempt: TIMEOUT, reported as SCHEDULE_TO_CLOSE', { timeout: 90000 }, async () => {
  let runs = 0;
  const activities = {
    async slow() {
      runs++;
      await new Promise((resolve) => setTimeout(resolve, 4000));
      return 'late';
    },
  };
  // Attempt 1 times out after 1 s; the next would start 2 s later, past schedule-to-close (2.5 s).
  const { r, ev } = await outcome(
    activities,
    'slow',
    { startToCloseTimeout: '1s', scheduleToCloseTimeout: '2500ms', retry: { initialInterval: '2s' } },
    { closing: 'ActivityTaskTimedOut' },
  );
  assert.equal(runs, 1);
  assert.equal(r.retryState, 'TIMEOUT');
  assert.equal(r.causeName, 'TimeoutFailure');
  assert.equal(ev.retryState, enums.RetryState.RETRY_STATE_TIMEOUT);
  assert.equal(ev.failure.timeoutFailureInfo.timeoutType, enums.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
});

sdkTest('an activity nobody picks up times out SCHEDULE_TO_START (defaulted from schedule-to-close)', {}, async () => {
  // The workflow's worker runs no activity worker for the activity's own task queue.
  const taskQueue = uniq('s2s');
  const workflowId = uniq('s2s-wf');
  const options = { taskQueue: uniq('s2s-nobody'), scheduleToCloseTimeout: '2s' };
  const r = await env.withWorker({ taskQueue, activities: {} }, () =>
    env.client.workflow.execute('activityOutcome', { taskQueue, workflowId, args: ['unpicked', options, []] }),
  );
  assert.equal(r.name, 'ActivityFailure');
  assert.equal(r.causeName, 'TimeoutFailure');
  assert.equal(r.timeoutType, 'SCHEDULE_TO_START');
  assert.equal(r.retryState, 'TIMEOUT');
  const h = await env.handle(workflowId).fetchHistory();
  const sched = attrs(eventsOf(h, 'ActivityTaskScheduled')[0]);
  assert.equal(Number(sched.scheduleToStartTimeout.seconds), 2);
  const to = eventsOf(h, 'ActivityTaskTimedOut');
  assert.equal(to.length, 1);
  const ta = attrs(to[0]);
  assert.equal(ta.failure.timeoutFailureInfo.timeoutType, enums.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START);
  assert.equal(ta.retryState, enums.RetryState.RETRY_STATE_TIMEOUT);
  assert.equal(eventsOf(h, 'ActivityTaskStarted').length, 0);
});
