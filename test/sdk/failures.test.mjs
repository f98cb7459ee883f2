// SPDX-License-Identifier: Apache-2.0
// Failures and timeouts on a real temporald through the TypeScript SDK, beyond the basic
// activity retries: a workflow that fails, a duplicate workflow id, a workflow run timeout, an
// activity start-to-close timeout followed by a retry, and heartbeat details carried from a
// timed-out attempt to the next one. Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import {
  useTemporald,
  sdkTest,
  sdkClient,
  sdkActivity,
  sdkProto,
  uniq,
  eventTypes,
  eventsOf,
  attrs,
  num,
  payloadValue,
  sleep,
} from './harness.mjs';
import { TODO } from './todo.mjs';

const env = useTemporald();
const { Context } = sdkActivity;
const enums = sdkProto.temporal.api.enums.v1;

sdkTest('a workflow that fails: WorkflowFailedError and WorkflowExecutionFailed', { todo: TODO.workflowFailure }, async () => {
  const taskQueue = uniq('wffail');
  const workflowId = uniq('wffail-wf');
  await env.withWorker({ taskQueue }, async () => {
    await assert.rejects(env.client.workflow.execute('failWorkflow', { taskQueue, workflowId, args: ['it broke'] }), (err) => {
      assert.ok(err instanceof sdkClient.WorkflowFailedError, `got ${err?.name}`);
      assert.equal(err.cause?.name, 'ApplicationFailure');
      assert.equal(err.cause.message, 'it broke');
      assert.equal(err.cause.type, 'MyFailure');
      assert.equal(err.cause.nonRetryable, true);
      assert.deepEqual(err.cause.details, [{ code: 42 }]);
      return true;
    });
  });
  assert.equal((await env.handle(workflowId).describe()).status.name, 'FAILED');
  const h = await env.handle(workflowId).fetchHistory();
  const types = eventTypes(h);
  assert.equal(types.at(-1), 'WorkflowExecutionFailed');
  const f = attrs(h.events.at(-1));
  assert.equal(f.failure.message, 'it broke');
  assert.equal(f.failure.applicationFailureInfo.type, 'MyFailure');
  assert.equal(f.retryState, enums.RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET);
  assert.equal(num(f.workflowTaskCompletedEventId), h.events.length - 1);
});

sdkTest('starting a running workflow id again: WorkflowExecutionAlreadyStartedError', { todo: TODO.alreadyStarted }, async () => {
  const taskQueue = uniq('dup');
  const workflowId = uniq('dup-wf');
  const first = await env.client.workflow.start('sleeper', { taskQueue, workflowId });
  await assert.rejects(env.client.workflow.start('sleeper', { taskQueue, workflowId }), (err) => {
    assert.ok(err instanceof sdkClient.WorkflowExecutionAlreadyStartedError, `got ${err?.name}: ${err?.message}`);
    assert.equal(err.workflowId, workflowId);
    return true;
  });
  const d = await first.describe();
  assert.equal(d.runId, first.firstExecutionRunId, 'the first run is still the current one');
  await first.terminate('test done');
  // A closed id may be reused by default (ALLOW_DUPLICATE): a new run starts.
  const second = await env.client.workflow.start('sleeper', { taskQueue, workflowId });
  assert.notEqual(second.firstExecutionRunId, first.firstExecutionRunId);
  await second.terminate('test done');
});

sdkTest('workflow run timeout: WorkflowExecutionTimedOut', { todo: TODO.runTimeout }, async () => {
  const taskQueue = uniq('runto');
  const workflowId = uniq('runto-wf');
  const t0 = Date.now();
  await env.withWorker({ taskQueue }, async () => {
    await assert.rejects(
      env.client.workflow.execute('sleeper', { taskQueue, workflowId, workflowRunTimeout: '1s' }),
      (err) => {
        assert.ok(err instanceof sdkClient.WorkflowFailedError, `got ${err?.name}`);
        assert.equal(err.cause?.name, 'TimeoutFailure');
        assert.equal(err.cause.timeoutType, 'START_TO_CLOSE');
        return true;
      },
    );
  });
  const ms = Date.now() - t0;
  assert.ok(ms >= 900 && ms < 10000, `timed out after ${ms} ms`);
  assert.equal((await env.handle(workflowId).describe()).status.name, 'TIMED_OUT');
  const h = await env.handle(workflowId).fetchHistory();
  assert.equal(eventTypes(h).at(-1), 'WorkflowExecutionTimedOut');
});

sdkTest('workflow run timeout without a retry policy: retry state RETRY_POLICY_NOT_SET', { todo: TODO.runTimeoutRetryState }, async () => {
  const taskQueue = uniq('runto-rs');
  const workflowId = uniq('runto-rs-wf');
  // No worker is needed: the run timeout fires on the server alone.
  const handle = await env.client.workflow.start('sleeper', { taskQueue, workflowId, workflowRunTimeout: '1s' });
  await assert.rejects(handle.result(), (err) => err.cause?.name === 'TimeoutFailure');
  const h = await handle.fetchHistory();
  assert.equal(eventTypes(h).at(-1), 'WorkflowExecutionTimedOut');
  // As Temporal's run-timeout timer task does (GetRetryBackoffDuration without a retry policy).
  assert.equal(attrs(h.events.at(-1)).retryState, enums.RetryState.RETRY_STATE_RETRY_POLICY_NOT_SET);
});

sdkTest('activity start-to-close timeout, then a successful retry', { todo: TODO.startToClose }, async () => {
  const taskQueue = uniq('stc');
  const workflowId = uniq('stc-wf');
  const attempts = [];
  const activities = {
    async slowOnce(key) {
      const { attempt } = Context.current().info;
      attempts.push(attempt);
      if (attempt === 1) await Promise.race([Context.current().cancelled.catch(() => {}), sleep(3000)]);
      return `${key} done on ${attempt}`;
    },
  };
  const r = await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('startToCloseRetry', { taskQueue, workflowId, args: ['k'] }),
  );
  assert.equal(r, 'k done on 2');
  assert.deepEqual(attempts, [1, 2]);
  const h = await env.handle(workflowId).fetchHistory();
  const started = attrs(eventsOf(h, 'ActivityTaskStarted')[0]);
  assert.equal(num(started.attempt), 2);
  assert.equal(started.lastFailure?.timeoutFailureInfo?.timeoutType, enums.TimeoutType.TIMEOUT_TYPE_START_TO_CLOSE);
  assert.equal(eventsOf(h, 'ActivityTaskTimedOut').length, 0);
  assert.equal(payloadValue(attrs(eventsOf(h, 'ActivityTaskCompleted')[0]).result), 'k done on 2');
});

sdkTest('heartbeat details of a timed-out attempt reach the next attempt', { todo: TODO.heartbeatDetails }, async () => {
  const taskQueue = uniq('hbres');
  const workflowId = uniq('hbres-wf');
  const seen = [];
  const activities = {
    async resumable(key) {
      const { attempt, heartbeatDetails } = Context.current().info;
      seen.push({ attempt, heartbeatDetails });
      if (attempt === 1) {
        Context.current().heartbeat({ progress: 5 });
        await Promise.race([Context.current().cancelled.catch(() => {}), sleep(4000)]);
        return 'stale';
      }
      return `${key} resumed at ${heartbeatDetails?.progress}`;
    },
  };
  const r = await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('heartbeatResume', { taskQueue, workflowId, args: ['k'] }),
  );
  assert.equal(r, 'k resumed at 5');
  assert.deepEqual(seen, [
    { attempt: 1, heartbeatDetails: undefined },
    { attempt: 2, heartbeatDetails: { progress: 5 } },
  ]);
  const h = await env.handle(workflowId).fetchHistory();
  const started = attrs(eventsOf(h, 'ActivityTaskStarted')[0]);
  assert.equal(num(started.attempt), 2);
  assert.equal(started.lastFailure?.timeoutFailureInfo?.timeoutType, enums.TimeoutType.TIMEOUT_TYPE_HEARTBEAT);
});
