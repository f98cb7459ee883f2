// SPDX-License-Identifier: Apache-2.0
// The workflows of the cluster suite, bundled by test/cluster/bundle.mjs and run in the worker's
// sandbox (only '@temporalio/workflow' may be imported). The one activity, `work`, is defined in
// cluster.mjs and records every delivery so the checks can find a task delivered twice.
import * as wf from '@temporalio/workflow';

const { work } = wf.proxyActivities({ startToCloseTimeout: '20s', retry: { initialInterval: '200ms', maximumAttempts: 20 } });

// The load workflow: `steps` activities with a short timer between them; returns "KEY:steps".
export async function loadFlow(key, steps) {
  let last = '';
  for (let i = 1; i <= steps; i++) {
    last = await work(key, i);
    if (i < steps) await wf.sleep(100);
  }
  return last;
}

// An activity, a timer, an activity.
export async function actTimer(key, sleepMs) {
  const a = await work(key, 1);
  const t0 = Date.now();
  await wf.sleep(sleepMs);
  const b = await work(key, 2);
  return { a, b, slept: Date.now() - t0 };
}

export const addSignal = wf.defineSignal('add');
export const doneSignal = wf.defineSignal('done');
export const stateQuery = wf.defineQuery('state');
export const addUpdate = wf.defineUpdate('addUpdate');

// Sums 'add' signals and 'addUpdate' updates (an update returns the new total) until 'done';
// the 'state' query answers the total and the count of values seen.
export async function accumulator() {
  let total = 0;
  let seen = 0;
  let done = false;
  wf.setHandler(addSignal, (n) => {
    total += n;
    seen++;
  });
  wf.setHandler(addUpdate, (n) => {
    total += n;
    seen++;
    return total;
  });
  wf.setHandler(doneSignal, () => void (done = true));
  wf.setHandler(stateQuery, () => ({ total, seen }));
  await wf.condition(() => done);
  return total;
}

// Starts `n` children (ids PARENT-child-I, which the test spreads over shards) running
// `loadFlow`, waits for all of them and returns their results.
export async function parentOf(n) {
  const me = wf.workflowInfo().workflowId;
  const children = [];
  for (let i = 0; i < n; i++) {
    children.push(wf.executeChild(loadFlow, { workflowId: `${me}-child-${i}`, args: [`${me}-child-${i}`, 1] }));
  }
  return await Promise.all(children);
}

// Continues as new until n reaches 0, each run adding n; returns the total and the run count.
export async function chain(n, total, runs) {
  await work(`chain-${n}`, 1);
  if (n > 0) await wf.continueAsNew(n - 1, total + n, runs + 1);
  return { total, runs: runs + 1 };
}
