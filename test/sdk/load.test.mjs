// SPDX-License-Identifier: Apache-2.0
// Small load tests on a real temporald through the TypeScript SDK: 200 workflows with one
// activity each, started at once, all on one worker (every result and history checked, the
// throughput printed as a diagnostic); 500 concurrent signals to one workflow; and 30 workflows
// on a worker that caches only 5, so most workflow tasks replay full histories. Not a benchmark:
// the worker and temporald share this machine's two cores with the test runner.
// Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, uniq, eventTypes } from './harness.mjs';
import { TODO } from './todo.mjs';

const env = useTemporald();
const N = 200;

sdkTest(`${N} concurrent workflows with an activity each`, { todo: TODO.load, timeout: 120000 }, async () => {
  const taskQueue = uniq('load');
  const ids = Array.from({ length: N }, (_, i) => `${taskQueue}-${i}`);
  const activities = { greet: async (n) => `Hello, ${n}!` };
  const t0 = Date.now();
  const results = await env.withWorker(
    { taskQueue, activities, maxConcurrentWorkflowTaskExecutions: 10, maxCachedWorkflows: N },
    () => Promise.all(ids.map((workflowId, i) => env.client.workflow.execute('hello', { taskQueue, workflowId, args: [`w${i}`] }))),
  );
  const ms = Date.now() - t0;
  results.forEach((r, i) => assert.equal(r, `Hello, w${i}!`));
  console.error(`# load: ${N} workflows in ${ms} ms = ${((N * 1000) / ms).toFixed(1)} workflows/s`);
  for (const id of ids) {
    const h = await env.handle(id).fetchHistory();
    const types = eventTypes(h);
    assert.equal(types.length, 11, `${id}: ${types.join(',')}`);
    assert.equal(types.at(-1), 'WorkflowExecutionCompleted');
  }
});

sdkTest('500 concurrent signals to one workflow: each recorded and seen once', { todo: TODO.signalStorm, timeout: 120000 }, async () => {
  const taskQueue = uniq('storm');
  const workflowId = uniq('storm-wf');
  const M = 500;
  const r = await env.withWorker({ taskQueue }, async () => {
    const h = await env.client.workflow.start('collect', { taskQueue, workflowId, args: [M] });
    await Promise.all(Array.from({ length: M }, (_, i) => h.signal('add', i)));
    return h.result();
  });
  assert.equal(r.length, M);
  assert.deepEqual([...r].sort((a, b) => a - b), Array.from({ length: M }, (_, i) => i));
  const h = await env.handle(workflowId).fetchHistory();
  assert.equal(eventTypes(h).filter((t) => t === 'WorkflowExecutionSignaled').length, M);
});

sdkTest('workflow cache eviction: 30 workflows on a worker that caches 5', { todo: TODO.cacheEviction, timeout: 120000 }, async () => {
  const taskQueue = uniq('evict');
  const K = 30;
  const ids = Array.from({ length: K }, (_, i) => `${taskQueue}-${i}`);
  const r = await env.withWorker({ taskQueue, maxCachedWorkflows: 5, maxConcurrentWorkflowTaskExecutions: 2 }, async () => {
    const hs = await Promise.all(ids.map((workflowId) => env.client.workflow.start('collect', { taskQueue, workflowId, args: [3] })));
    // Three rounds of signals: most workflows are evicted between rounds and replayed from history.
    for (let round = 0; round < 3; round++) {
      await Promise.all(hs.map((h, i) => h.signal('add', `${i}.${round}`)));
    }
    return Promise.all(hs.map((h) => h.result()));
  });
  r.forEach((values, i) => assert.deepEqual(values, [`${i}.0`, `${i}.1`, `${i}.2`]));
});
