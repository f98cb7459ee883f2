// SPDX-License-Identifier: Apache-2.0
// Crash recovery on a real temporald with a SQLite file: 200 workflows with timers, activities
// and signals are in flight when temporald is killed with SIGKILL (once; then, for 100 more
// workflows, three times in a row); it is restarted on the same file and port each time, the same
// worker carries on, and every workflow must complete with the right result, with each activity
// result recorded exactly once in its history (activity executions are counted here, in the test
// process). Last, SIGTERM must stop temporald cleanly and a restart must serve the old workflows.
// Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, sdkActivity, sdkClient, uniq, eventTypes, eventsOf, attrs, payloadValue, sleep, waitFor } from './harness.mjs';
import { TODO } from './todo.mjs';

const env = useTemporald();
const N = 200;
const { Context } = sdkActivity;

// Retries fn while temporald is coming back (UNAVAILABLE and friends); gives up after ms.
async function retrying(fn, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await sleep(200);
    }
  }
}

// Runs n `durable` workflows on one worker and kills temporald with SIGKILL `kills` times while
// they run (the first kill once a quarter of the first activities ran, the next ones `gapMs`
// apart), restarting it on the same file each time. Half the signals are sent before the first
// kill, the rest after it, retried through later kills. Then checks every result and history.
async function crashRun({ n, kills, gapMs }) {
  const taskQueue = uniq('restart');
  const execs = new Map();
  let running = 0;
  const activities = {
    async step(key, k) {
      const id = `${key}#${k}`;
      execs.set(id, (execs.get(id) ?? 0) + 1);
      running++;
      try {
        await sleep(100 + ((Number(key.split('-').at(-1)) * 37 + k * 101 + Context.current().info.attempt * 13) % 300));
      } finally {
        running--;
      }
      return `${key}-${k}`;
    },
  };
  const atKill = [];
  const retriedSignals = new Set();
  const ids = Array.from({ length: n }, (_, i) => `${taskQueue}-wf-${i}`);
  const w = await env.worker({ taskQueue, activities, maxConcurrentActivityTaskExecutions: 100, maxCachedWorkflows: 250 });
  const results = await w.runUntil(async () => {
    const handles = [];
    for (let i = 0; i < n; i++) {
      handles.push(
        await env.client.workflow.start('durable', {
          taskQueue,
          workflowId: ids[i],
          args: [ids[i], 200 + (i % 10) * 150],
          workflowTaskTimeout: '5s',
        }),
      );
    }
    for (let i = 0; i < n / 2; i++) await handles[i].signal('add', `sig-${i}`);
    await waitFor(() => [...execs.keys()].filter((k) => k.endsWith('#1')).length >= n / 4, 15000, 20);
    // The other half of the signals, sent while temporald is being killed and restarted.
    const late = (async () => {
      for (let i = n / 2; i < n; i++) {
        let tries = 0;
        await retrying(async () => {
          if (tries++ > 0) retriedSignals.add(i);
          try {
            return await handles[i].signal('add', `sig-${i}`);
          } catch (err) {
            // An earlier try may have landed before a crash swallowed its answer, and the
            // workflow may have finished since: then the signal is in its history.
            if (tries > 1 && err instanceof sdkClient.WorkflowNotFoundError) {
              const h = await handles[i].fetchHistory();
              if (eventsOf(h, 'WorkflowExecutionSignaled').length === 1) return undefined;
            }
            throw err;
          }
        });
      }
    })();
    for (let k = 0; k < kills; k++) {
      if (k > 0) await sleep(gapMs);
      const at = {
        execs: [...execs.values()].reduce((a, b) => a + b, 0),
        running,
        second: [...execs.keys()].filter((x) => x.endsWith('#2')).length,
      };
      await env.server.kill();
      const t0 = Date.now();
      await sleep(300);
      await env.server.start();
      at.restartMs = Date.now() - t0;
      atKill.push(at);
    }
    await late;
    return Promise.all(handles.map((h) => retrying(() => h.result(), 180000)));
  });
  for (const at of atKill) {
    console.error(`# restart: killed with ${at.execs} activity executions done, ${at.running} running, ` +
      `${at.second} second steps started; temporald back in ${at.restartMs} ms`);
  }
  assert.ok(atKill[0].running > 0 && atKill[0].second < n, 'work was in flight when temporald was killed');

  const wrong = [];
  results.forEach((r, i) => {
    const want = `${ids[i]}-1|sig-${i}|${ids[i]}-2`;
    if (r !== want) wrong.push(`${ids[i]}: ${r} != ${want}`);
  });
  assert.deepEqual(wrong, [], 'every workflow has the right result');

  let reexecuted = 0;
  const bad = [];
  for (let i = 0; i < n; i++) {
    for (const k of [1, 2]) {
      const c = execs.get(`${ids[i]}#${k}`) ?? 0;
      if (c < 1) bad.push(`${ids[i]} step ${k} never ran`);
      reexecuted += Math.max(0, c - 1);
    }
    const h = await env.handle(ids[i]).fetchHistory();
    const completed = eventsOf(h, 'ActivityTaskCompleted').map((e) => payloadValue(attrs(e).result));
    if (completed.length !== 2 || completed[0] !== `${ids[i]}-1` || completed[1] !== `${ids[i]}-2`) {
      bad.push(`${ids[i]} completions ${JSON.stringify(completed)}`);
    }
    for (const [t, want] of [['ActivityTaskScheduled', 2], ['TimerStarted', 1], ['TimerFired', 1],
      ['WorkflowExecutionSignaled', 1], ['WorkflowExecutionCompleted', 1]]) {
      const got = eventsOf(h, t).length;
      // A signal the client had to send again (its first try failed in a crash) may be there twice.
      if (got !== want && !(t === 'WorkflowExecutionSignaled' && retriedSignals.has(i) && got === 2)) {
        bad.push(`${ids[i]} has ${got} ${t}, want ${want}`);
      }
    }
  }
  console.error(`# restart: ${n} workflows completed; ${reexecuted} activity re-executions after ${kills} crash(es)`);
  assert.deepEqual(bad.slice(0, 20), [], `${bad.length} histories are wrong`);
}

sdkTest('kill -9 with 200 workflows in flight, restart on the same file', { todo: TODO.restart, timeout: 240000 }, () =>
  crashRun({ n: N, kills: 1 }),
);

sdkTest('kill -9 three times in a row with 100 workflows in flight', { todo: TODO.restartRepeated, timeout: 240000 }, () =>
  crashRun({ n: 100, kills: 3, gapMs: 500 }),
);

sdkTest('SIGTERM stops temporald cleanly; a restart on the same file serves the old workflows', { todo: TODO.gracefulStop }, async () => {
  const taskQueue = uniq('graceful');
  const workflowId = uniq('graceful-wf');
  const activities = { greet: async (n) => `Hello, ${n}!` };
  await env.withWorker({ taskQueue, activities }, () =>
    env.client.workflow.execute('hello', { taskQueue, workflowId, args: ['before'] }),
  );
  const running = await env.client.workflow.start('collect', { taskQueue, workflowId: `${workflowId}-open`, args: [1] });
  // stop() sends SIGTERM and escalates to SIGKILL only after its grace period, so exit code 0
  // with no signal proves temporald drained and exited on its own.
  const exit = await env.server.stop();
  assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, 'exit status 0 on SIGTERM');
  await env.server.start();
  const h = await env.handle(workflowId).fetchHistory();
  assert.equal(eventTypes(h).length, 11);
  assert.equal(await env.handle(workflowId).result(), 'Hello, before!');
  const r = await env.withWorker({ taskQueue }, async () => {
    await retrying(() => running.signal('add', 'after'));
    return running.result();
  });
  assert.deepEqual(r, ['after']);
});
