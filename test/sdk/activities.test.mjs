// SPDX-License-Identifier: Apache-2.0
// Activities on a real temporald through the TypeScript SDK: retries until success and until the
// retry policy is exhausted, heartbeat timeout, cancellation of a running activity, and local
// activities (markers, local retries). Activities run in this process, so the tests count their
// executions. Run by test/sdk/run.sh with `node --test`.
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
  payloadValue,
  sleep,
  waitFor,
} from './harness.mjs';
import { TODO } from './todo.mjs';

const env = useTemporald();
const { Context } = sdkActivity;
const enums = sdkProto.temporal.api.enums.v1;

sdkTest('activity retried until it succeeds', { todo: TODO.activityRetry }, async () => {
  const taskQueue = uniq('retry');
  const workflowId = uniq('retry-wf');
  const attempts = [];
  const activities = {
    async flaky(key) {
      const a = Context.current().info.attempt;
      attempts.push(a);
      if (a < 3) throw new Error(`${key} attempt ${a} fails`);
      return `${key} ok on ${a}`;
    },
  };
  const r = await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('retrying', { taskQueue, workflowId, args: ['k1', 5] }),
  );
  assert.deepEqual(r, { ok: 'k1 ok on 3' });
  assert.deepEqual(attempts, [1, 2, 3]);
  const h = await env.handle(workflowId).fetchHistory();
  // Retries are not in history: one scheduled, one started (the last attempt), one completed.
  assert.equal(eventsOf(h, 'ActivityTaskScheduled').length, 1);
  const started = eventsOf(h, 'ActivityTaskStarted');
  assert.equal(started.length, 1);
  assert.equal(num(attrs(started[0]).attempt), 3);
  assert.match(attrs(started[0]).lastFailure?.message ?? '', /k1 attempt 2 fails/);
  assert.equal(eventsOf(h, 'ActivityTaskFailed').length, 0);
  assert.equal(payloadValue(attrs(eventsOf(h, 'ActivityTaskCompleted')[0]).result), 'k1 ok on 3');
});

sdkTest('activity retried until the retry policy is exhausted', { todo: TODO.activityRetry }, async () => {
  const taskQueue = uniq('exhaust');
  const workflowId = uniq('exhaust-wf');
  const attempts = [];
  const activities = {
    async flaky(key) {
      const a = Context.current().info.attempt;
      attempts.push(a);
      throw sdkActivity.ApplicationFailure.create({
        message: `${key} attempt ${a} fails`,
        type: 'FlakyError',
        details: [{ attempt: a }],
      });
    },
  };
  const r = await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('retrying', { taskQueue, workflowId, args: ['k2', 3] }),
  );
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.equal(r.failed, true);
  assert.equal(r.name, 'ActivityFailure');
  assert.equal(r.activityType, 'flaky');
  assert.equal(r.retryState, 'MAXIMUM_ATTEMPTS_REACHED');
  assert.equal(r.causeName, 'ApplicationFailure');
  assert.equal(r.causeType, 'FlakyError');
  assert.equal(r.causeMessage, 'k2 attempt 3 fails');
  const h = await env.handle(workflowId).fetchHistory();
  const failed = eventsOf(h, 'ActivityTaskFailed');
  assert.equal(failed.length, 1);
  const fa = attrs(failed[0]);
  assert.equal(fa.failure.message, 'k2 attempt 3 fails');
  assert.equal(fa.failure.applicationFailureInfo.type, 'FlakyError');
  assert.deepEqual(payloadValue(fa.failure.applicationFailureInfo.details), { attempt: 3 });
  assert.equal(fa.retryState, enums.RetryState.RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
  assert.equal(num(attrs(eventsOf(h, 'ActivityTaskStarted')[0]).attempt), 3);
  assert.equal(eventTypes(h).at(-1), 'WorkflowExecutionCompleted');
});

sdkTest('heartbeat timeout', { todo: TODO.heartbeatTimeout }, async () => {
  const taskQueue = uniq('hbto');
  const workflowId = uniq('hbto-wf');
  const activities = {
    async stall() {
      const ctx = Context.current();
      ctx.heartbeat('first');
      // Stop heartbeating; the server times the activity out after 1 s.
      await Promise.race([ctx.cancelled.catch(() => {}), sleep(4000)]);
      return 'too late';
    },
  };
  const r = await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('heartbeatTimeout', { taskQueue, workflowId, args: ['k'] }),
  );
  assert.equal(r.timedOut, true);
  assert.equal(r.name, 'ActivityFailure');
  assert.equal(r.causeName, 'TimeoutFailure');
  assert.equal(r.timeoutType, 'HEARTBEAT');
  const h = await env.handle(workflowId).fetchHistory();
  const to = eventsOf(h, 'ActivityTaskTimedOut');
  assert.equal(to.length, 1);
  // Server-side times: the timeout fires no earlier than 1 s after the only heartbeat, which came
  // after the activity was scheduled. (No upper bound: how late it fires depends on machine load.)
  const eventMs = (e) => Number(e.eventTime.seconds) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6);
  const scheduled = eventsOf(h, 'ActivityTaskScheduled')[0];
  const gapMs = eventMs(to[0]) - eventMs(scheduled);
  assert.ok(gapMs >= 1000, `timed out ${gapMs} ms after the activity was scheduled (heartbeat timeout 1 s)`);
  const ta = attrs(to[0]);
  assert.equal(ta.failure.timeoutFailureInfo.timeoutType, enums.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
  assert.equal(payloadValue(ta.failure.timeoutFailureInfo.lastHeartbeatDetails), 'first');
  assert.equal(eventsOf(h, 'ActivityTaskCompleted').length, 0);
});

sdkTest('cancelling a running activity', { todo: TODO.activityCancel }, async () => {
  const taskQueue = uniq('actcancel');
  const workflowId = uniq('actcancel-wf');
  const seen = [];
  const activities = {
    async heartbeater() {
      const ctx = Context.current();
      try {
        for (let i = 0; i < 300; i++) {
          ctx.heartbeat(i);
          await Promise.race([ctx.cancelled, sleep(100)]);
        }
        seen.push('finished');
        return 'finished';
      } catch (err) {
        seen.push(err?.name);
        throw err;
      }
    },
  };
  const r = await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('cancelActivity', { taskQueue, workflowId, args: ['k', 800] }),
  );
  assert.equal(r, 'cancelled');
  assert.deepEqual(seen, ['CancelledFailure']);
  const h = await env.handle(workflowId).fetchHistory();
  const types = eventTypes(h);
  for (const t of ['ActivityTaskScheduled', 'ActivityTaskStarted', 'ActivityTaskCancelRequested', 'ActivityTaskCanceled']) {
    assert.equal(types.filter((x) => x === t).length, 1, t);
  }
  assert.ok(types.indexOf('ActivityTaskCancelRequested') < types.indexOf('ActivityTaskCanceled'));
  const c = attrs(eventsOf(h, 'ActivityTaskCanceled')[0]);
  assert.equal(num(c.scheduledEventId), num(eventsOf(h, 'ActivityTaskScheduled')[0].eventId));
  assert.equal(num(c.latestCancelRequestedEventId), num(eventsOf(h, 'ActivityTaskCancelRequested')[0].eventId));
  assert.equal(types.at(-1), 'WorkflowExecutionCompleted');
});

sdkTest('local activities: result, local retries, markers instead of activity events', { todo: TODO.localActivities }, async () => {
  const taskQueue = uniq('local');
  const workflowId = uniq('local-wf');
  const attempts = [];
  const activities = {
    async greet(name) {
      return `Hello, ${name}!`;
    },
    async flakyLocal(key, fails) {
      const a = Context.current().info.attempt;
      attempts.push(a);
      if (a <= fails) throw new Error(`${key} local attempt ${a}`);
      return `${key} local ok on ${a}`;
    },
  };
  const r = await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('localActivities', { taskQueue, workflowId, args: ['k', 2] }),
  );
  assert.deepEqual(r, ['Hello, local!', 'k local ok on 3']);
  assert.deepEqual(attempts, [1, 2, 3]);
  const h = await env.handle(workflowId).fetchHistory();
  const types = eventTypes(h);
  assert.equal(types.filter((t) => t.startsWith('ActivityTask')).length, 0);
  const markers = eventsOf(h, 'MarkerRecorded');
  assert.equal(markers.length, 2);
  for (const m of markers) assert.equal(attrs(m).markerName, 'core_local_activity');
  assert.equal(types.at(-1), 'WorkflowExecutionCompleted');
});

sdkTest('a local activity longer than the workflow task timeout (workflow task heartbeats)', { todo: TODO.wftHeartbeat }, async () => {
  const taskQueue = uniq('slowlocal');
  const workflowId = uniq('slowlocal-wf');
  const activities = {
    async sleepy(ms) {
      await sleep(ms);
      return `slept ${ms}`;
    },
  };
  const r = await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('slowLocal', { taskQueue, workflowId, args: [4000], workflowTaskTimeout: '2s' }),
  );
  assert.equal(r, 'slept 4000');
  const h = await env.handle(workflowId).fetchHistory();
  const types = eventTypes(h);
  assert.equal(types.filter((t) => t === 'WorkflowTaskTimedOut').length, 0, 'no workflow task timed out');
  assert.ok(types.filter((t) => t === 'WorkflowTaskCompleted').length >= 3, `heartbeats: ${types.join(',')}`);
  assert.equal(eventsOf(h, 'MarkerRecorded').length, 1);
  assert.equal(types.at(-1), 'WorkflowExecutionCompleted');
});

sdkTest('describe() lists a pending activity with its heartbeat details', { todo: TODO.pendingActivities }, async () => {
  const taskQueue = uniq('pending');
  const workflowId = uniq('pending-wf');
  let beats = 0;
  const activities = {
    async heartbeater() {
      const ctx = Context.current();
      for (;;) {
        ctx.heartbeat({ beat: ++beats });
        await Promise.race([ctx.cancelled, sleep(100)]);
      }
    },
  };
  await env.withWorker({ taskQueue, activities }, async () => {
    const handle = await env.client.workflow.start('pendingActivity', { taskQueue, workflowId, args: ['k'] });
    const pa = await waitFor(async () => {
      const d = await handle.describe();
      const p = d.raw.pendingActivities?.[0];
      return p && p.heartbeatDetails ? p : null;
    });
    assert.ok(pa, 'a pending activity with heartbeat details');
    assert.equal(pa.activityType.name, 'heartbeater');
    assert.equal(pa.state, enums.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED);
    assert.equal(num(pa.attempt), 1);
    assert.ok(payloadValue(pa.heartbeatDetails).beat >= 1);
    await handle.signal('done');
    assert.equal(await handle.result(), 'stopped');
    const d = await handle.describe();
    assert.equal(d.raw.pendingActivities?.length ?? 0, 0);
  });
});
