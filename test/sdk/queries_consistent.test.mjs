// SPDX-License-Identifier: Apache-2.0
// Consistent queries through the TypeScript SDK: a query sent while a workflow task is scheduled or
// running is buffered by temporald and answered in the next workflow task (PollWorkflowTaskQueue
// `queries`, RespondWorkflowTaskCompleted `query_results`), so a query issued after a signal was
// accepted always sees that signal. The tests signal the `collect` workflow while querying it, in
// lock step and concurrently, and check every answer against the signals sent and the final
// history. Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { useTemporald, sdkTest, uniq, eventsOf, attrs, payloadValue, sleep } from './harness.mjs';

// Debug logging: hist_query.c logs each buffered query's path, which the tests count to show the
// answers came from workflow tasks (the `queries` map) and not only from legacy query tasks.
const env = useTemporald({ args: ['--log-level', 'debug'] });

// How many lines of the temporald log match re (the whole log of this file's server).
function logCount(re) {
  return readFileSync(env.server.logFile, 'utf8')
    .split('\n')
    .filter((l) => re.test(l)).length;
}
const ANSWERED_IN_WFT = /query \S+ answered in a workflow task completion/;
const BUFFERED = /query \S+ buffered for /;
const UNBLOCKED = /query \S+ unblocked: a legacy query task answers it/;
const logCounts = () => ({
  buffered: logCount(BUFFERED),
  answered: logCount(ANSWERED_IN_WFT),
  unblocked: logCount(UNBLOCKED),
});

// values must be 0, 1, ..., k-1 (signals are sent in that order): returns k.
function prefixLength(values) {
  values.forEach((v, i) => assert.equal(v, i, `answer ${JSON.stringify(values)} is not a prefix`));
  return values.length;
}

sdkTest('a query after an accepted signal sees it (read-your-writes)', {}, async () => {
  const taskQueue = uniq('cq');
  const workflowId = uniq('cq-wf');
  const N = 25;
  const before = logCounts();
  await env.withWorker({ taskQueue }, async () => {
    const handle = await env.client.workflow.start('collect', { taskQueue, workflowId, args: [0] });
    for (let i = 0; i < N; i++) {
      await handle.signal('add', i);
      // The signal scheduled a workflow task (or waits behind a running one): the query rides in
      // a task that already has the signal in its history.
      const s = await handle.query('state');
      assert.equal(prefixLength(s.values), i + 1, `query after signal ${i}: ${JSON.stringify(s)}`);
      assert.equal(s.done, false);
    }
    await handle.signal('done');
    assert.deepEqual(await handle.result(), Array.from({ length: N }, (_, i) => i));
  });
  const h = await env.handle(workflowId).fetchHistory();
  const sigs = eventsOf(h, 'WorkflowExecutionSignaled').filter((e) => attrs(e).signalName === 'add');
  assert.deepEqual(
    sigs.map((e) => payloadValue(attrs(e).input)),
    Array.from({ length: N }, (_, i) => i),
    'history holds every signal once, in order',
  );
  // Each query followed a signal that scheduled a workflow task, so it was buffered; it then rode
  // in the next task (answered there) or, when it arrived after that task had started and its
  // completion scheduled no new one, fell back to a legacy query task. Nothing else happened to it.
  const buffered = logCount(BUFFERED) - before.buffered;
  const viaWft = logCount(ANSWERED_IN_WFT) - before.answered;
  const unblocked = logCount(UNBLOCKED) - before.unblocked;
  console.log(`# ${N} queries: ${buffered} buffered, ${viaWft} answered in a workflow task, ${unblocked} legacy after unblock`);
  assert.ok(buffered >= 3, `only ${buffered} of ${N} queries were buffered`);
  assert.equal(viaWft + unblocked, buffered, 'every buffered query was answered or unblocked');
});

sdkTest('queries racing a burst of signals: every answer is a consistent, growing prefix', {}, async () => {
  const taskQueue = uniq('cq-burst');
  const workflowId = uniq('cq-burst-wf');
  const N = 40;
  await env.withWorker({ taskQueue }, async () => {
    const handle = await env.client.workflow.start('collect', { taskQueue, workflowId, args: [0] });
    let acked = 0; // signals accepted by the server so far
    let sending = true;
    const sender = (async () => {
      for (let i = 0; i < N; i++) {
        await handle.signal('add', i);
        acked = i + 1;
        if (i % 5 === 4) await sleep(5);
      }
      sending = false;
    })();
    // Two query loops; a query only counts as answered when it returns (never dropped or hung).
    let answered = 0;
    const queryLoop = async () => {
      let last = 0;
      while (sending || last < N) {
        const ackedBefore = acked;
        const s = await handle.query('state');
        const k = prefixLength(s.values);
        assert.ok(k >= ackedBefore, `answer ${k} misses signals accepted before the query (${ackedBefore})`);
        assert.ok(k >= last, `answers went backwards: ${last} then ${k}`);
        assert.ok(k <= N);
        last = k;
        answered++;
      }
    };
    await Promise.all([sender, queryLoop(), queryLoop()]);
    assert.ok(answered >= 2, `only ${answered} queries answered`);
    await handle.signal('done');
    assert.deepEqual(await handle.result(), Array.from({ length: N }, (_, i) => i));
    // Closed: a legacy query task answers from the full history.
    assert.deepEqual(await handle.query('state'), { values: Array.from({ length: N }, (_, i) => i), done: true });
  });
  const h = await env.handle(workflowId).fetchHistory();
  assert.equal(eventsOf(h, 'WorkflowExecutionSignaled').length, N + 1, 'queries add no events');
});

sdkTest('a failing query during in-flight workflow tasks fails with the handler error', {}, async () => {
  const taskQueue = uniq('cq-fail');
  const workflowId = uniq('cq-fail-wf');
  await env.withWorker({ taskQueue }, async () => {
    const handle = await env.client.workflow.start('collect', { taskQueue, workflowId, args: [0] });
    for (let i = 0; i < 5; i++) {
      await handle.signal('add', i);
      await assert.rejects(handle.query('no-such-query'), (err) => {
        assert.match(String(err?.message), /no-such-query/);
        return true;
      });
    }
    // The workflow is unharmed and later queries are answered.
    assert.deepEqual(await handle.query('state'), { values: [0, 1, 2, 3, 4], done: false });
    await handle.signal('done');
    assert.deepEqual(await handle.result(), [0, 1, 2, 3, 4]);
  });
});
