// SPDX-License-Identifier: Apache-2.0
// Async activity completion through the TypeScript SDK's AsyncCompletionClient (client.activity),
// which names the activity by workflow id, run id and activity id instead of a task token: the
// activity returns CompleteAsyncError and the test completes, heartbeats, fails or reports the
// cancellation of it by id (RespondActivityTask*ById, RecordActivityTaskHeartbeatById). Also the
// SDK's ActivityNotFoundError for an unknown activity, and DeleteWorkflowExecution of a running
// and of a closed workflow. Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import {
  useTemporald,
  sdkTest,
  sdkActivity,
  sdkClient,
  uniq,
  eventsOf,
  attrs,
  payloadValue,
  waitFor,
} from './harness.mjs';

const env = useTemporald();
const { Context, CompleteAsyncError } = sdkActivity;
const { ActivityNotFoundError, ActivityCancelledError } = sdkClient;

// Activities that hand their identity to the test and leave the completion to it.
function asyncActivities(infos) {
  const park = async () => {
    infos.push(Context.current().info);
    throw new CompleteAsyncError();
  };
  return { greet: park, heartbeater: park };
}

sdkTest('activity completed by id (after a heartbeat by id)', {}, async () => {
  const taskQueue = uniq('byid');
  const workflowId = uniq('byid-wf');
  const infos = [];
  await env.withWorker({ taskQueue, activities: asyncActivities(infos) }, async () => {
    const h = await env.client.workflow.start('hello', { taskQueue, workflowId, args: ['x'] });
    const info = await waitFor(() => infos[0]);
    assert.ok(info, 'the activity ran');
    assert.equal(info.workflowExecution.workflowId, workflowId);
    // The current run (no run id), then the named run.
    await env.client.activity.heartbeat({ workflowId, activityId: info.activityId }, 'half');
    await env.client.activity.complete(
      { workflowId, runId: h.firstExecutionRunId, activityId: info.activityId },
      'done async',
    );
    assert.equal(await h.result(), 'done async');
    // Gone now: the SDK's ActivityNotFoundError.
    await assert.rejects(
      env.client.activity.complete({ workflowId, activityId: info.activityId }, 'again'),
      ActivityNotFoundError,
    );
    const hist = await h.fetchHistory();
    const done = eventsOf(hist, 'ActivityTaskCompleted');
    assert.equal(done.length, 1);
    assert.equal(payloadValue(attrs(done[0]).result), 'done async');
  });
});

sdkTest('unknown activity or workflow by id: ActivityNotFoundError', {}, async () => {
  const taskQueue = uniq('byid-nf');
  const workflowId = uniq('byid-nf-wf');
  const infos = [];
  await env.withWorker({ taskQueue, activities: asyncActivities(infos) }, async () => {
    const h = await env.client.workflow.start('hello', { taskQueue, workflowId, args: ['x'] });
    await waitFor(() => infos[0]);
    await assert.rejects(
      env.client.activity.complete({ workflowId, activityId: 'no-such-activity' }, 'x'),
      ActivityNotFoundError,
    );
    await assert.rejects(
      env.client.activity.heartbeat({ workflowId: uniq('no-such-wf'), activityId: '1' }, 'x'),
      ActivityNotFoundError,
    );
    await h.terminate('test over');
  });
});

sdkTest('activity failed by id fails the workflow', {}, async () => {
  const taskQueue = uniq('byid-fail');
  const workflowId = uniq('byid-fail-wf');
  const infos = [];
  await env.withWorker({ taskQueue, activities: asyncActivities(infos) }, async () => {
    const h = await env.client.workflow.start('hello', { taskQueue, workflowId, args: ['x'] });
    const info = await waitFor(() => infos[0]);
    await env.client.activity.fail({ workflowId, activityId: info.activityId }, new Error('async failure'));
    const err = await h.result().then(
      () => null,
      (e) => e,
    );
    assert.ok(err, 'the workflow failed');
    assert.equal(err.cause?.name, 'ActivityFailure');
    assert.equal(err.cause?.cause?.message, 'async failure');
  });
});

sdkTest('cancellation seen by a heartbeat by id, reported by id', {}, async () => {
  const taskQueue = uniq('byid-cancel');
  const workflowId = uniq('byid-cancel-wf');
  const infos = [];
  await env.withWorker({ taskQueue, activities: asyncActivities(infos) }, async () => {
    const h = await env.client.workflow.start('pendingActivity', { taskQueue, workflowId, args: ['k'] });
    const info = await waitFor(() => infos[0]);
    const id = { workflowId, activityId: info.activityId };
    await env.client.activity.heartbeat(id, 'running'); // not cancelled yet
    await h.signal('done'); // the workflow cancels the activity
    const cancelled = await waitFor(async () => {
      try {
        await env.client.activity.heartbeat(id, 'running');
        return false;
      } catch (e) {
        if (e instanceof ActivityCancelledError) return true;
        throw e;
      }
    });
    assert.ok(cancelled, 'a heartbeat by id reported the cancellation request');
    await env.client.activity.reportCancellation(id, 'stopped by the client');
    assert.equal(await h.result(), 'stopped');
    assert.equal(eventsOf(await h.fetchHistory(), 'ActivityTaskCanceled').length, 1);
  });
});

sdkTest('DeleteWorkflowExecution of a running and of a closed workflow', {}, async () => {
  const taskQueue = uniq('delete');
  const running = uniq('delete-running');
  const closed = uniq('delete-closed');
  const infos = [];
  await env.withWorker({ taskQueue, activities: asyncActivities(infos) }, async () => {
    const hr = await env.client.workflow.start('hello', { taskQueue, workflowId: running, args: ['x'] });
    const hc = await env.client.workflow.start('hello', { taskQueue, workflowId: closed, args: ['y'] });
    const info = await waitFor(() => infos.find((i) => i.workflowExecution.workflowId === closed));
    await env.client.activity.complete({ workflowId: closed, activityId: info.activityId }, 'ok');
    assert.equal(await hc.result(), 'ok');
    for (const id of [running, closed]) {
      await env.client.workflowService.deleteWorkflowExecution({
        namespace: 'default',
        workflowExecution: { workflowId: id },
      });
      await assert.rejects(env.handle(id).describe(), (e) => e.name === 'WorkflowNotFoundError');
    }
    // The running one was terminated before the delete: its result reports the termination or
    // that it is gone.
    await assert.rejects(hr.result());
    const listed = [];
    for await (const w of env.client.workflow.list({ query: `WorkflowId = '${running}' OR WorkflowId = '${closed}'` })) {
      listed.push(w.workflowId);
    }
    assert.deepEqual(listed, []);
  });
});

sdkTest('completion by id without a run id: the current run, also for an activity no worker started', {}, async () => {
  const taskQueue = uniq('byid-force');
  const workflowId = uniq('byid-force-wf');
  // The activity's own task queue has no worker: nobody ever starts it.
  const options = { taskQueue: uniq('byid-nobody'), scheduleToCloseTimeout: '60s' };
  await env.withWorker({ taskQueue, activities: {} }, async () => {
    // Two runs of one workflow id, one after the other: each completion by id (no run id)
    // reaches the run open at the time.
    for (const value of ['first', 'second']) {
      const h = await env.client.workflow.start('activityOutcome', { taskQueue, workflowId, args: ['unpicked', options, []] });
      assert.ok(await waitFor(async () => eventsOf(await h.fetchHistory(), 'ActivityTaskScheduled').length === 1));
      // Heartbeats and failures by id need a started activity (as Temporal).
      await assert.rejects(env.client.activity.heartbeat({ workflowId, activityId: '1' }, 'x'), ActivityNotFoundError);
      await env.client.activity.complete({ workflowId, activityId: '1' }, value);
      assert.deepEqual(await h.result(), { ok: value });
      const hist = await h.fetchHistory();
      assert.equal(eventsOf(hist, 'ActivityTaskStarted').length, 1);
      assert.equal(payloadValue(attrs(eventsOf(hist, 'ActivityTaskCompleted')[0]).result), value);
    }
  });
});
