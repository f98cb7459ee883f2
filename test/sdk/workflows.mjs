// SPDX-License-Identifier: Apache-2.0
// The workflow definitions of the SDK integration suite. This file is bundled by the TypeScript
// SDK's webpack bundler (test/sdk/bundle.mjs) and runs inside the worker's workflow sandbox, so it
// may import only '@temporalio/workflow'. Activities are not here: each test file defines its own
// (they run in the test process, so tests can count executions). Only the test files under
// test/sdk/ use these workflows, by their exported names.
import * as wf from '@temporalio/workflow';

const short = { startToCloseTimeout: '10s', retry: { maximumAttempts: 1 } };

// One activity, its result returned: the smallest end-to-end workflow.
export async function hello(name) {
  const { greet } = wf.proxyActivities(short);
  return await greet(name);
}

// An activity retried with small intervals up to maxAttempts. Returns the result, or a summary of
// the ActivityFailure when the retries are exhausted (so the test can check the failure details).
export async function retrying(key, maxAttempts) {
  const { flaky } = wf.proxyActivities({
    startToCloseTimeout: '10s',
    retry: { initialInterval: '50ms', backoffCoefficient: 1, maximumInterval: '50ms', maximumAttempts: maxAttempts },
  });
  try {
    return { ok: await flaky(key) };
  } catch (err) {
    return {
      failed: true,
      name: err.name,
      retryState: err.retryState,
      activityType: err.activityType,
      causeName: err.cause?.name,
      causeType: err.cause?.type,
      causeMessage: err.cause?.message,
      causeNonRetryable: err.cause?.nonRetryable,
    };
  }
}

// An activity that stops heartbeating: expect a heartbeat timeout.
export async function heartbeatTimeout(key) {
  const { stall } = wf.proxyActivities({
    startToCloseTimeout: '30s',
    heartbeatTimeout: '1s',
    retry: { maximumAttempts: 1 },
  });
  try {
    await stall(key);
    return { timedOut: false };
  } catch (err) {
    return { timedOut: true, name: err.name, causeName: err.cause?.name, timeoutType: err.cause?.timeoutType };
  }
}

// Starts a heartbeating activity, then cancels it after afterMs and waits for its cancellation.
export async function cancelActivity(key, afterMs) {
  const { heartbeater } = wf.proxyActivities({
    startToCloseTimeout: '60s',
    heartbeatTimeout: '2s',
    retry: { maximumAttempts: 1 },
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const scope = new wf.CancellationScope();
  const p = scope.run(() => heartbeater(key));
  await wf.sleep(afterMs);
  scope.cancel();
  try {
    await p;
    return 'completed';
  } catch (err) {
    return wf.isCancellation(err) ? 'cancelled' : `error: ${err.name}: ${err.message}`;
  }
}

// A timer that fires, then a timer that is cancelled before it fires.
export async function timers(fireMs) {
  const t0 = Date.now();
  await wf.sleep(fireMs);
  const elapsed = Date.now() - t0;
  const scope = new wf.CancellationScope();
  const long = scope.run(() => wf.sleep('1h'));
  await wf.sleep(10);
  scope.cancel();
  let cancelled = false;
  try {
    await long;
  } catch (err) {
    cancelled = wf.isCancellation(err);
  }
  return { elapsed, cancelled };
}

export const addSignal = wf.defineSignal('add');
export const doneSignal = wf.defineSignal('done');
export const stateQuery = wf.defineQuery('state');

// Collects 'add' signals until 'done' (or until `count` values arrived); answers 'state'.
export async function collect(count) {
  const values = [];
  let done = false;
  wf.setHandler(addSignal, (v) => void values.push(v));
  wf.setHandler(doneSignal, () => void (done = true));
  wf.setHandler(stateQuery, () => ({ values: [...values], done }));
  await wf.condition(() => done || (count > 0 && values.length >= count));
  return values;
}

// Runs a local activity that blocks until the test has sent a signal (so the signal arrives while
// this workflow task is running), then returns whatever signals it has seen, without waiting.
export async function signalDuringTask(key) {
  const values = [];
  wf.setHandler(addSignal, (v) => void values.push(v));
  const { blockUntilReleased } = wf.proxyLocalActivities({ startToCloseTimeout: '30s' });
  await blockUntilReleased(key);
  return values;
}

// Sleeps for an hour: for cancellation and termination. Reports whether cancellation was seen.
export async function sleeper() {
  await wf.sleep('1h');
  return 'woke';
}

// Throws a plain Error (a workflow-task failure, not a workflow failure) in its first workflow
// task, then succeeds when the task is retried.
export async function failFirstTask() {
  if (wf.workflowInfo().historyLength <= 3) throw new Error('deliberate workflow task failure');
  return 'recovered';
}

// Returns after one 'done' signal; used by the sticky-fallback and WFT-timeout tests.
export async function waitDone() {
  let done = false;
  wf.setHandler(doneSignal, () => void (done = true));
  wf.setHandler(stateQuery, () => ({ done }));
  await wf.condition(() => done);
  return 'done';
}

// Local activities: one that succeeds and one that fails `fails` times before succeeding.
export async function localActivities(key, fails) {
  const { greet, flakyLocal } = wf.proxyLocalActivities({
    startToCloseTimeout: '10s',
    retry: { initialInterval: '50ms', backoffCoefficient: 1, maximumAttempts: fails + 2 },
  });
  const a = await greet('local');
  const b = await flakyLocal(key, fails);
  return [a, b];
}

// Starts `n` timers of a few milliseconds each, all at once: about 2n history events.
export async function manyTimers(n) {
  await Promise.all(Array.from({ length: n }, (_, i) => wf.sleep(1 + (i % 7))));
  return n;
}

// The restart workflow: timer, activity, wait for a signal, activity. Returns a value derived
// from every step so a lost or repeated step shows up in the result.
export async function durable(key, sleepMs) {
  const { step } = wf.proxyActivities({
    startToCloseTimeout: '4s',
    retry: { initialInterval: '200ms', backoffCoefficient: 1.5, maximumInterval: '2s' },
  });
  let sig = null;
  wf.setHandler(addSignal, (v) => void (sig ??= v));
  await wf.sleep(sleepMs);
  const a = await step(key, 1);
  await wf.condition(() => sig !== null);
  const b = await step(key, 2);
  return `${a}|${sig}|${b}`;
}

// Fails the workflow (not the task) with a non-retryable application failure.
export async function failWorkflow(msg) {
  throw wf.ApplicationFailure.nonRetryable(msg, 'MyFailure', { code: 42 });
}

// An activity whose first attempt heartbeats progress and stalls; the retry reads the progress.
export async function heartbeatResume(key) {
  const { resumable } = wf.proxyActivities({
    startToCloseTimeout: '30s',
    heartbeatTimeout: '1s',
    retry: { initialInterval: '50ms', backoffCoefficient: 1, maximumAttempts: 2 },
  });
  return await resumable(key);
}

// An activity whose first attempt overruns its start-to-close timeout; the second attempt is quick.
export async function startToCloseRetry(key) {
  const { slowOnce } = wf.proxyActivities({
    startToCloseTimeout: '700ms',
    retry: { initialInterval: '50ms', backoffCoefficient: 1, maximumAttempts: 3 },
  });
  return await slowOnce(key);
}

// Starts `hello` as a child workflow and returns its result.
export async function parent(name) {
  const child = await wf.startChild(hello, { args: [name], workflowId: `${wf.workflowInfo().workflowId}-child` });
  const r = await child.result();
  return { child: child.workflowId, result: r };
}

// Continues as new n times, adding n to the total each time; returns the total and the run count.
export async function countdown(n, total, runs) {
  if (n > 0) await wf.continueAsNew(n - 1, total + n, runs + 1);
  return { total, runs: runs + 1 };
}

// Waits for cancellation, then cleans up with an activity the cancellation cannot reach, and
// completes normally instead of reporting the cancellation.
export async function cleanupOnCancel() {
  const { greet } = wf.proxyActivities(short);
  try {
    await wf.sleep('1h');
    return 'woke';
  } catch (err) {
    if (!wf.isCancellation(err)) throw err;
    return await wf.CancellationScope.nonCancellable(() => greet('cleanup'));
  }
}

// An update handler that adds to a total; the workflow ends when the 'done' signal arrives.
export const addUpdate = wf.defineUpdate('addUpdate');
export async function updatable() {
  let total = 0;
  let done = false;
  wf.setHandler(addUpdate, (n) => {
    if (n < 0) throw wf.ApplicationFailure.nonRetryable('negative', 'BadInput');
    total += n;
    return total;
  });
  wf.setHandler(doneSignal, () => void (done = true));
  await wf.condition(() => done);
  return total;
}

// Signals another workflow (`collect`) by id, then returns.
export async function signalOther(targetId, value) {
  await wf.getExternalWorkflowHandle(targetId).signal(addSignal, value);
  return 'sent';
}

// Upserts a search attribute and returns; the test reads it back with describe().
export async function upsertAttrs(value) {
  wf.upsertSearchAttributes({ CustomKeywordField: [value] });
  await wf.sleep(1);
  return 'ok';
}

// A patched workflow: the patch marker is recorded on first execution.
export async function patchedWorkflow() {
  return wf.patched('my-patch') ? 'new' : 'old';
}

// Passes a large string through an activity and returns its length and a checksum.
export async function bigPayload(s) {
  const { echo } = wf.proxyActivities(short);
  const r = await echo(s);
  let sum = 0;
  for (let i = 0; i < r.length; i += 997) sum = (sum + r.charCodeAt(i)) % 65521;
  return { length: r.length, sum };
}

// Runs `spin` (which never ends on its own) with a short heartbeat timeout and retries: when the
// worker running it dies, the next attempt runs elsewhere. Returns the activity's result.
export async function survivor(key) {
  const { spin } = wf.proxyActivities({
    startToCloseTimeout: '60s',
    heartbeatTimeout: '1s',
    retry: { initialInterval: '100ms', backoffCoefficient: 1, maximumAttempts: 3 },
  });
  return await spin(key);
}

// A local activity that runs longer than the workflow task timeout: the worker keeps the task
// alive with workflow-task heartbeats (RespondWorkflowTaskCompleted with
// force_create_new_workflow_task) until the activity finishes.
export async function slowLocal(ms) {
  const { sleepy } = wf.proxyLocalActivities({ startToCloseTimeout: '60s' });
  return await sleepy(ms);
}

// Runs `heartbeater` until the 'done' signal, then cancels it; for describe() of a pending activity.
export async function pendingActivity(key) {
  const { heartbeater } = wf.proxyActivities({
    startToCloseTimeout: '60s',
    heartbeatTimeout: '5s',
    retry: { maximumAttempts: 1 },
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  let done = false;
  wf.setHandler(doneSignal, () => void (done = true));
  const scope = new wf.CancellationScope();
  const p = scope.run(() => heartbeater(key));
  await wf.condition(() => done);
  scope.cancel();
  try {
    await p;
  } catch (err) {
    if (!wf.isCancellation(err)) throw err;
  }
  return 'stopped';
}

// Fails on its first `failRuns` attempts (workflow-level retries), then returns the attempt number.
export async function failRuns(failRunsCount) {
  const { attempt } = wf.workflowInfo();
  if (attempt <= failRunsCount) throw wf.ApplicationFailure.retryable(`run attempt ${attempt} fails`, 'RunFailure');
  return attempt;
}

// Returns how many cron runs came before it (from lastResult) plus one.
export async function cronCount() {
  const last = wf.workflowInfo().lastResult;
  return (typeof last === 'number' ? last : 0) + 1;
}

// Asks another workflow to cancel itself, then returns.
export async function cancelOther(targetId) {
  await wf.getExternalWorkflowHandle(targetId).cancel();
  return 'requested';
}

// Starts a `sleeper` child and waits for it; when this workflow is cancelled, the child is too.
export async function parentOfSleeper() {
  const child = await wf.startChild(sleeper, { workflowId: `${wf.workflowInfo().workflowId}-child` });
  try {
    return await child.result();
  } catch (err) {
    return wf.isCancellation(err) ? `cancelled: ${err.cause?.name ?? err.name}` : `error: ${err.name}`;
  }
}

// A chain of `depth` child workflows below this one (ids <parent id>-c), each waiting for its
// child; with `patch`, every level also takes the 'tree-patch' patch. Returns the depth below.
export async function tree(depth, patch) {
  if (patch) wf.patched('tree-patch');
  if (depth <= 0) return 0;
  const below = await wf.executeChild(tree, { args: [depth - 1, patch], workflowId: `${wf.workflowInfo().workflowId}-c` });
  return below + 1;
}

// ---- workflow updates (test/sdk/update.test.mjs) ----
// setValue replaces the value and returns the old one; its validator rejects strings starting
// with "bad". failUpdate throws an ApplicationFailure. waitUpdate(n) returns 2n once a 'release'
// signal came. The workflow returns the value when the 'done' signal arrives.
export const setValueUpdate = wf.defineUpdate('setValue');
export const failUpdate = wf.defineUpdate('failUpdate');
export const waitUpdate = wf.defineUpdate('waitUpdate');
export const releaseSignal = wf.defineSignal('release');
export async function updateTarget() {
  let value = '';
  let released = false;
  let done = false;
  wf.setHandler(
    setValueUpdate,
    (v) => {
      const old = value;
      value = v;
      return old;
    },
    {
      validator: (v) => {
        if (typeof v !== 'string' || v.startsWith('bad')) throw new Error(`invalid value ${v}`);
      },
    },
  );
  wf.setHandler(failUpdate, (msg) => {
    throw wf.ApplicationFailure.nonRetryable(msg, 'UpdateFailed');
  });
  wf.setHandler(waitUpdate, async (n) => {
    await wf.condition(() => released);
    return 2 * n;
  });
  wf.setHandler(releaseSignal, () => void (released = true));
  wf.setHandler(doneSignal, () => void (done = true));
  await wf.condition(() => done);
  await wf.condition(wf.allHandlersFinished);
  return value;
}

// Collects 'add' signals; in phase 0 continues as new once one has arrived (carrying what it
// has), in phase 1 returns them at 'done'. For reset across a continue-as-new chain.
export async function chainCollect(phase, seen) {
  const values = [...(seen ?? [])];
  let done = false;
  wf.setHandler(addSignal, (v) => void values.push(v));
  wf.setHandler(doneSignal, () => void (done = true));
  wf.setHandler(stateQuery, () => ({ values: [...values], done, phase }));
  if (phase === 0) {
    await wf.condition(() => values.length >= 1);
    await wf.continueAsNew(1, values);
  }
  await wf.condition(() => done);
  return values;
}

// Continues as new `n` times, then waits for one 'done' signal: a chain whose older runs are
// closed while its current run is open (the retention test).
export async function continueThenWait(n) {
  if (n > 0) await wf.continueAsNew(n - 1);
  return await waitDone();
}

// The per-run limits (limits.test.mjs): each starts `n` of one kind of pending thing in one
// workflow task, so a limit below n fails that task with Temporal's cause.
export async function manyActivities(n) {
  const { greet } = wf.proxyActivities(short);
  return await Promise.all(Array.from({ length: n }, (_, i) => greet(`a${i}`)));
}

export async function manyChildren(n) {
  const id = wf.workflowInfo().workflowId;
  await Promise.all(Array.from({ length: n }, (_, i) => wf.startChild(sleeper, { workflowId: `${id}-child-${i}` })));
  return n;
}

export async function manySignalsOut(targetId, n) {
  const h = wf.getExternalWorkflowHandle(targetId);
  await Promise.all(Array.from({ length: n }, (_, i) => h.signal(addSignal, i)));
  return n;
}

export async function manyCancelsOut(targetIds) {
  await Promise.all(targetIds.map((id) => wf.getExternalWorkflowHandle(id).cancel()));
  return targetIds.length;
}

// Whether the workflow task that started after `timers` timers suggested continue-as-new.
export async function suggestedCAN(timers) {
  for (let i = 0; i < timers; i++) await wf.sleep(1);
  return wf.workflowInfo().continueAsNewSuggested;
}

// How the workflow sees its Datetime search attribute CustomDatetimeField (the legacy and the
// typed view): an ISO string when it got a Date, else what it got instead.
function datetimeView() {
  const info = wf.workflowInfo();
  const show = (v) => (v instanceof Date ? v.toISOString() : `not a Date: ${JSON.stringify(v)}`);
  const typed = info.typedSearchAttributes.getAll().find((p) => p.key.name === 'CustomDatetimeField');
  return { legacy: show(info.searchAttributes?.CustomDatetimeField?.[0]), typed: show(typed?.value) };
}

// Round 0: its view in the first task, upserts upsertIso, its view in the next task, then
// continues as new; round 1 adds its first view and returns them all.
export async function datetimeAttrs(round, upsertIso, views = []) {
  views.push(datetimeView());
  if (round === 0) {
    wf.upsertSearchAttributes({ CustomDatetimeField: [new Date(upsertIso)] });
    await wf.sleep(1);
    views.push(datetimeView());
    await wf.continueAsNew(1, upsertIso, views);
  }
  return views;
}

// The timeouts the workflow was given (null when unset).
export async function timeoutsInfo() {
  const i = wf.workflowInfo();
  return { execution: i.executionTimeoutMs ?? null, run: i.runTimeoutMs ?? null, task: i.taskTimeoutMs ?? null };
}

// A timer, an activity and a child, each with a summary (the child also with details).
export async function withMetadata() {
  await wf.sleep(1, { summary: 'timer summary' });
  const { greet } = wf.proxyActivities({ ...short, summary: 'activity summary' });
  await greet('md');
  await wf.executeChild(hello, {
    args: ['child'],
    workflowId: `${wf.workflowInfo().workflowId}-child`,
    staticSummary: 'child summary',
    staticDetails: 'child details',
  });
  return 'ok';
}

// Runs activity `name` once with proxyActivities `options` and `args`: its result, or a summary
// of the ActivityFailure (retry state, and the cause's name, type, timeout type and message).
export async function activityOutcome(name, options, args) {
  const acts = wf.proxyActivities(options);
  try {
    return { ok: await acts[name](...(args ?? [])) };
  } catch (err) {
    return {
      failed: true,
      name: err.name,
      retryState: err.retryState,
      causeName: err.cause?.name,
      causeType: err.cause?.type,
      timeoutType: err.cause?.timeoutType,
      causeMessage: err.cause?.message,
    };
  }
}
