// SPDX-License-Identifier: Apache-2.0
// A small load test on a real temporald through the TypeScript SDK: 200 workflows with one
// activity each, started at once, all on one worker. Checks every result and history, and
// prints the throughput (workflows completed per second, start to last result) as a diagnostic.
// Not a benchmark: the worker and temporald share this machine's two cores with the test runner.
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
