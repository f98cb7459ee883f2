// SPDX-License-Identifier: Apache-2.0
// ResetWorkflowExecution through the TypeScript SDK's raw service client (the request shape of
// `temporal workflow reset`): a running workflow reset to its first completed workflow task gets
// a new run with the copied prefix, WorkflowTaskFailed RESET_WORKFLOW and the reapplied signals,
// the base run is terminated and the new run is current (describe, list); a completed workflow
// is reset without being terminated; reapply NONE / exclude SIGNAL drop the signals; request id
// dedup; bad finish event ids and a missing request id are INVALID_ARGUMENT; describe's
// extended info (deadlines, cancel request, reset links and times) and the first run id and
// state transition count in describe and list; a child pending at the reset point keeps running
// and its close reaches the new run. Run by
// test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, sdkProto, uniq, eventTypes, eventsOf, attrs, num, payloadValue, waitFor, sleep } from './harness.mjs';

const env = useTemporald();
const enums = sdkProto.temporal.api.enums.v1;
const RESET_WORKFLOW = enums.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW;

function reset(workflowId, runId, finishId, extra = {}) {
  return env.client.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId, runId },
    reason: 'reset by the sdk suite',
    workflowTaskFinishEventId: finishId,
    requestId: uniq('reset-req'),
    ...extra,
  });
}

// The id of the first WorkflowTaskCompleted event of a history.
function firstCompletedId(h) {
  return num(eventsOf(h, 'WorkflowTaskCompleted')[0].eventId);
}

async function statusOf(workflowId, runId) {
  return (await env.handle(workflowId, runId).describe()).status.name;
}

// DescribeWorkflowExecution's workflow_extended_info of a run, raw.
async function extOf(workflowId, runId) {
  return (await env.handle(workflowId, runId).describe()).raw.workflowExtendedInfo;
}

// A protobuf Timestamp in milliseconds (null when unset).
function tsMs(ts) {
  return ts == null ? null : num(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

async function listed(workflowId) {
  const seen = {};
  for await (const w of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    seen[w.runId] = w.status.name;
  }
  return seen;
}

sdkTest('reset of a running workflow: new run with the copied prefix, reapplied signals, base terminated', {}, async () => {
  const taskQueue = uniq('reset-run');
  const workflowId = uniq('reset-run-wf');
  await env.withWorker({ taskQueue }, async () => {
    const base = await env.client.workflow.start('collect', { taskQueue, workflowId, args: [3] });
    const baseRun = base.firstExecutionRunId;
    assert.ok(await waitFor(async () => eventTypes(await base.fetchHistory()).includes('WorkflowTaskCompleted')));
    await base.signal('add', 'a');
    await base.signal('add', 'b');
    assert.ok(await waitFor(async () => (await base.query('state')).values.length === 2), 'both signals handled');
    const baseHistory = await base.fetchHistory();
    const finishId = firstCompletedId(baseHistory);
    assert.equal(finishId, 4);

    const resp = await reset(workflowId, baseRun, finishId);
    assert.ok(resp.runId && resp.runId !== baseRun);

    // The base run is terminated by the reset; the new run is the current one.
    assert.equal(await statusOf(workflowId, baseRun), 'TERMINATED');
    const baseAfter = await env.handle(workflowId, baseRun).fetchHistory();
    const term = baseAfter.events.at(-1);
    assert.equal(eventTypes(baseAfter).at(-1), 'WorkflowExecutionTerminated');
    assert.equal(attrs(term).reason, 'reset by the sdk suite');
    assert.equal(attrs(term).identity, 'history-resetter');
    const d = await env.handle(workflowId).describe();
    assert.equal(d.runId, resp.runId);
    assert.equal(d.status.name, 'RUNNING');

    // Extended info: the base points at the new run; the new run knows when it was reset and
    // the start time of the history it copied.
    const baseStartMs = tsMs(baseHistory.events[0].eventTime);
    const bx = await extOf(workflowId, baseRun);
    assert.equal(bx.resetRunId, resp.runId);
    assert.equal(bx.lastResetTime, null);
    assert.equal(tsMs(bx.originalStartTime), baseStartMs);
    const nx = d.raw.workflowExtendedInfo;
    assert.equal(nx.resetRunId, '');
    assert.equal(tsMs(nx.originalStartTime), baseStartMs);
    assert.ok(tsMs(nx.lastResetTime) >= tsMs(term.eventTime) - 1000, 'last reset time at the reset');
    assert.ok(tsMs(nx.lastResetTime) <= Date.now() + 1000);
    assert.ok(tsMs(nx.lastResetTime) >= tsMs(bx.originalStartTime));
    assert.equal(nx.cancelRequested, false);

    // The new run finishes with the reapplied signals and one more.
    await env.handle(workflowId).signal('add', 'c');
    assert.deepEqual(await env.handle(workflowId, resp.runId).result(), ['a', 'b', 'c']);

    const h = await env.handle(workflowId, resp.runId).fetchHistory();
    const types = eventTypes(h);
    // Events 1..3 are the base run's, unchanged.
    for (let i = 0; i < finishId - 1; i++) {
      assert.equal(num(h.events[i].eventId), i + 1);
      assert.equal(types[i], eventTypes(baseHistory)[i]);
      assert.equal(num(h.events[i].eventTime.seconds), num(baseHistory.events[i].eventTime.seconds));
    }
    assert.deepEqual(types.slice(0, 7), [
      'WorkflowExecutionStarted',
      'WorkflowTaskScheduled',
      'WorkflowTaskStarted',
      'WorkflowTaskFailed',
      'WorkflowExecutionSignaled',
      'WorkflowExecutionSignaled',
      'WorkflowTaskScheduled',
    ]);
    const failed = attrs(h.events[3]);
    assert.equal(num(h.events[3].eventId), finishId);
    assert.equal(failed.cause, RESET_WORKFLOW);
    assert.equal(failed.baseRunId, baseRun);
    assert.equal(failed.newRunId, resp.runId);
    assert.equal(failed.identity, 'history-service');
    assert.equal(failed.failure.message, 'reset by the sdk suite');
    assert.ok(failed.failure.resetWorkflowFailureInfo, 'ResetWorkflowFailureInfo');
    const sigs = eventsOf(h, 'WorkflowExecutionSignaled').map((e) => payloadValue(attrs(e).input));
    assert.deepEqual(sigs, ['a', 'b', 'c']);
    assert.equal(types.at(-1), 'WorkflowExecutionCompleted');
  });

  // Visibility: the base run closed as terminated, the new run listed too.
  const seen = await waitFor(async () => {
    const s = await listed(workflowId);
    return Object.keys(s).length === 2 && Object.values(s).includes('TERMINATED') ? s : null;
  });
  assert.ok(seen, 'both runs listed');
});

sdkTest('reset of a completed workflow: the signals are reapplied and the base run stays completed', {}, async () => {
  const taskQueue = uniq('reset-done');
  const workflowId = uniq('reset-done-wf');
  await env.withWorker({ taskQueue }, async () => {
    const base = await env.client.workflow.start('collect', { taskQueue, workflowId, args: [2] });
    assert.ok(await waitFor(async () => eventTypes(await base.fetchHistory()).includes('WorkflowTaskCompleted')));
    await base.signal('add', 'x');
    await base.signal('add', 'y');
    assert.deepEqual(await base.result(), ['x', 'y']);
    const resp = await reset(workflowId, base.firstExecutionRunId, 4);
    assert.deepEqual(await env.handle(workflowId, resp.runId).result(), ['x', 'y']);
    assert.equal(await statusOf(workflowId, base.firstExecutionRunId), 'COMPLETED');
    assert.equal((await env.handle(workflowId).describe()).runId, resp.runId);

    // Reset to a WorkflowTaskStarted event id: the history service writes the task's Started
    // event itself, then fails it. No run id: the current run is the base.
    const resp2 = await reset(workflowId, undefined, 3);
    assert.deepEqual(await env.handle(workflowId, resp2.runId).result(), ['x', 'y']);
    const h = await env.handle(workflowId, resp2.runId).fetchHistory();
    assert.deepEqual(eventTypes(h).slice(0, 4), ['WorkflowExecutionStarted', 'WorkflowTaskScheduled', 'WorkflowTaskStarted', 'WorkflowTaskFailed']);
    assert.equal(attrs(h.events[2]).identity, 'history-service');
    assert.equal(attrs(h.events[3]).baseRunId, resp.runId);
    assert.equal(await statusOf(workflowId, resp.runId), 'COMPLETED');

    // Closed bases record the run their reset created too; a reset of a reset run keeps the
    // first start time as original_start_time.
    const baseStartMs = tsMs((await base.fetchHistory()).events[0].eventTime);
    assert.equal((await extOf(workflowId, base.firstExecutionRunId)).resetRunId, resp.runId);
    const mid = await extOf(workflowId, resp.runId);
    assert.equal(mid.resetRunId, resp2.runId);
    const last = await extOf(workflowId, resp2.runId);
    assert.equal(last.resetRunId, '');
    assert.equal(tsMs(last.originalStartTime), baseStartMs);
    assert.ok(tsMs(last.lastResetTime) > tsMs(mid.lastResetTime), 'the newer reset is later');
  });
});

sdkTest('describe extended info: expiration times, cancel request, original start time of a run never reset', {}, async () => {
  const taskQueue = uniq('ext-info');
  const workflowId = uniq('ext-info-wf');
  await env.withWorker({ taskQueue }, async () => {
    const h = await env.client.workflow.start('collect', {
      taskQueue, workflowId, args: [5], workflowExecutionTimeout: '1h', workflowRunTimeout: '10m',
    });
    const d = await h.describe();
    const x = d.raw.workflowExtendedInfo;
    const startMs = d.startTime.getTime();
    assert.equal(tsMs(x.executionExpirationTime) - startMs, 3600 * 1000);
    assert.equal(tsMs(x.runExpirationTime) - startMs, 600 * 1000);
    assert.equal(tsMs(x.originalStartTime), startMs);
    assert.equal(x.lastResetTime, null);
    assert.equal(x.resetRunId, '');
    assert.equal(x.cancelRequested, false);
    await h.cancel();
    assert.ok(await waitFor(async () => (await extOf(workflowId)).cancelRequested), 'cancel_requested');

    // Without timeouts there are no deadlines.
    const h2 = await env.client.workflow.start('collect', { taskQueue, workflowId: uniq('ext-info-wf'), args: [5] });
    const x2 = (await h2.describe()).raw.workflowExtendedInfo;
    assert.equal(x2.executionExpirationTime, null);
    assert.equal(x2.runExpirationTime, null);
    await h2.terminate('done');
  });
});

sdkTest('reset with reapply NONE (and exclude SIGNAL) drops the signals; the same request id answers the same run', {}, async () => {
  const taskQueue = uniq('reset-none');
  const workflowId = uniq('reset-none-wf');
  await env.withWorker({ taskQueue }, async () => {
    const base = await env.client.workflow.start('collect', { taskQueue, workflowId, args: [1] });
    assert.ok(await waitFor(async () => eventTypes(await base.fetchHistory()).includes('WorkflowTaskCompleted')));
    await base.signal('add', 'lost');
    assert.deepEqual(await base.result(), ['lost']);

    const requestId = uniq('reset-none-req');
    const resp = await reset(workflowId, base.firstExecutionRunId, 4, {
      resetReapplyType: enums.ResetReapplyType.RESET_REAPPLY_TYPE_NONE,
      requestId,
    });
    const again = await reset(workflowId, base.firstExecutionRunId, 4, {
      resetReapplyType: enums.ResetReapplyType.RESET_REAPPLY_TYPE_NONE,
      requestId,
    });
    assert.equal(again.runId, resp.runId, 'request id dedup');
    const h = await env.handle(workflowId, resp.runId).fetchHistory();
    assert.ok(!eventTypes(h).includes('WorkflowExecutionSignaled'), 'no signal reapplied');
    await env.handle(workflowId).signal('add', 'fresh');
    assert.deepEqual(await env.handle(workflowId, resp.runId).result(), ['fresh']);

    const resp2 = await reset(workflowId, base.firstExecutionRunId, 4, {
      resetReapplyExcludeTypes: [enums.ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL],
    });
    const h2 = await env.handle(workflowId, resp2.runId).fetchHistory();
    assert.ok(!eventTypes(h2).includes('WorkflowExecutionSignaled'), 'exclude SIGNAL');
    await env.handle(workflowId).terminate('done');
  });
});

sdkTest('reset with a bad finish event id or without a request id is INVALID_ARGUMENT', {}, async () => {
  const taskQueue = uniq('reset-bad');
  const workflowId = uniq('reset-bad-wf');
  const activities = { greet: async (n) => `Hello, ${n}!` };
  let runId;
  await env.withWorker({ taskQueue, activities }, async () => {
    const h = await env.client.workflow.start('hello', { taskQueue, workflowId, args: ['bad'] });
    runId = h.firstExecutionRunId;
    assert.equal(await h.result(), 'Hello, bad!');
  });
  const invalid = (re) => (err) => {
    assert.equal(err.code, 3, `code ${err.code}: ${err.details ?? err.message}`);
    assert.match(err.details ?? err.message, re);
    return true;
  };
  // 1 and past the last event: out of range.
  await assert.rejects(reset(workflowId, runId, 1), invalid(/finish ID must be > 1/));
  await assert.rejects(reset(workflowId, runId, 999), invalid(/finish ID must be > 1/));
  // 6: event 5 (ActivityTaskScheduled) leaves no workflow task pending.
  await assert.rejects(reset(workflowId, runId, 6), invalid(/Can only reset workflow to event ID in range/));
  await assert.rejects(reset(workflowId, runId, 4, { requestId: '' }), invalid(/RequestId is not set/));
  // Nothing was created: the run is still the current one and completed.
  const d = await env.handle(workflowId).describe();
  assert.equal(d.runId, runId);
  assert.equal(d.status.name, 'COMPLETED');
});

sdkTest('reset of a run that continued as new: the current run is terminated and the signals of the whole chain are reapplied', {}, async () => {
  const taskQueue = uniq('reset-chain');
  const workflowId = uniq('reset-chain-wf');
  await env.withWorker({ taskQueue }, async () => {
    const first = await env.client.workflow.start('chainCollect', { taskQueue, workflowId, args: [0, []] });
    const run1 = first.firstExecutionRunId;
    assert.ok(await waitFor(async () => eventTypes(await first.fetchHistory()).includes('WorkflowTaskCompleted')));
    await first.signal('add', 'a');
    // Run 1 continues as new into run 2, which gets the second signal.
    const run2 = await waitFor(async () => {
      const d = await env.handle(workflowId).describe();
      return d.runId !== run1 ? d.runId : null;
    });
    assert.ok(run2, 'run 1 continued as new');
    await env.handle(workflowId).signal('add', 'b');
    assert.ok(await waitFor(async () => (await env.handle(workflowId, run2).query('state')).values.length === 2));

    const resp = await reset(workflowId, run1, 4);
    assert.equal(await statusOf(workflowId, run2), 'TERMINATED');
    assert.equal(await statusOf(workflowId, run1), 'CONTINUED_AS_NEW');
    const h = await env.handle(workflowId, resp.runId).fetchHistory();
    const sigs = eventsOf(h, 'WorkflowExecutionSignaled').map((e) => payloadValue(attrs(e).input));
    assert.deepEqual(sigs, ['a', 'b']);
    // The new run sees both signals, continues as new with them, and finishes at 'done'.
    const next = await waitFor(async () => {
      const d = await env.handle(workflowId).describe();
      return d.runId !== resp.runId ? d.runId : null;
    });
    assert.ok(next, 'the reset run continued as new');
    await env.handle(workflowId).signal('done');
    assert.deepEqual(await env.handle(workflowId, next).result(), ['a', 'b']);

    // Every run of the chain, the reset run and its successor too, names run 1 as its first
    // run, in describe and in visibility, with its state transition count.
    const dn = (await env.handle(workflowId, next).describe()).raw.workflowExecutionInfo;
    assert.equal(dn.firstRunId, run1);
    assert.ok(num(dn.stateTransitionCount) > 0);
    const runs = await waitFor(async () => {
      const all = [];
      for await (const w of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) all.push(w);
      return all.length === 4 && all.every((w) => w.status.name !== 'RUNNING') ? all : null;
    });
    assert.ok(runs, 'the four runs listed closed');
    assert.deepEqual(new Set(runs.map((w) => w.runId)), new Set([run1, run2, resp.runId, next]));
    for (const w of runs) {
      assert.equal(w.raw.firstRunId, run1, `first run of ${w.runId}`);
      assert.ok(num(w.raw.stateTransitionCount) > 0, `state transitions of ${w.runId}`);
    }
    const listedNext = runs.find((w) => w.runId === next);
    assert.ok(num(listedNext.raw.stateTransitionCount) <= num(dn.stateTransitionCount));
  });
});

sdkTest('reset with a child pending: the child keeps running, belongs to the new run, and its close reaches the new run', {}, async () => {
  const taskQueue = uniq('reset-child');
  const workflowId = uniq('reset-child-wf');
  const childId = `${workflowId}-child`;
  await env.withWorker({ taskQueue }, async () => {
    const base = await env.client.workflow.start('parentOfSleeper', { taskQueue, workflowId });
    const baseRun = base.firstExecutionRunId;
    // 5 ChildInitiated, 6 ChildStarted, 7-9 the task that saw the start
    const baseHistory = await waitFor(async () => {
      const h = await base.fetchHistory();
      const types = eventTypes(h);
      return types.includes('ChildWorkflowExecutionStarted') && types.at(-1) === 'WorkflowTaskCompleted' ? h : null;
    });
    assert.ok(baseHistory, 'the parent waits for its started child');
    const finishId = num(eventsOf(baseHistory, 'WorkflowTaskCompleted').at(-1).eventId);
    const initiatedId = num(eventsOf(baseHistory, 'StartChildWorkflowExecutionInitiated')[0].eventId);
    assert.ok(finishId > num(eventsOf(baseHistory, 'ChildWorkflowExecutionStarted')[0].eventId));
    const childRun = (await env.handle(childId).describe()).runId;

    const resp = await reset(workflowId, baseRun, finishId);
    assert.equal(await statusOf(workflowId, baseRun), 'TERMINATED');
    const d = await env.handle(workflowId, resp.runId).describe();
    const pending = d.raw.pendingChildren ?? [];
    assert.equal(pending.length, 1);
    assert.equal(pending[0].workflowId, childId);
    assert.equal(pending[0].runId, childRun);
    assert.equal(num(pending[0].initiatedId), initiatedId);
    // The base's termination did not apply the parent close policy (TERMINATE) to the child.
    await sleep(1000);
    assert.equal(await statusOf(childId, childRun), 'RUNNING');
    assert.ok(!eventTypes(await env.handle(childId, childRun).fetchHistory()).includes('WorkflowExecutionTerminated'));

    // The child's close goes to the base run, which passes it on to the new run.
    await env.handle(childId, childRun).terminate('stop the child');
    assert.equal(await env.handle(workflowId, resp.runId).result(), 'error: ChildWorkflowFailure');
    const h = await env.handle(workflowId, resp.runId).fetchHistory();
    const done = eventsOf(h, 'ChildWorkflowExecutionTerminated');
    assert.equal(done.length, 1);
    assert.equal(num(attrs(done[0]).initiatedEventId), initiatedId);
    assert.equal(attrs(done[0]).workflowExecution.runId, childRun);
    // The base run's history ends with its termination: nothing was added to it.
    assert.equal(eventTypes(await env.handle(workflowId, baseRun).fetchHistory()).at(-1), 'WorkflowExecutionTerminated');
  });
});
