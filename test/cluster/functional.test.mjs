// SPDX-License-Identifier: Apache-2.0
// The full topology (2 frontend, 3 history, 2 matching, 1 worker processes on 8 hosts, one
// PostgreSQL) running the SDK's features with the client on one frontend and the worker on the
// other: activities, timers, signals, queries, updates, child workflows on several shards,
// continue-as-new, visibility, and a namespace registered through one frontend used through
// the other.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { Cluster, clusterTest, resultWithin, activities, uniq, waitFor, shardOf, checkHistory, historyNodeProblems, sql, figure } from './cluster.mjs';

let c;
const get = () => c;
const taskQueue = uniq('func');
before(async () => {
  c = new Cluster();
  await c.start();
  try {
    await c.requireRouting();
  } catch (err) {
    c.routingProblem = err.message;
    return;
  }
  await c.worker(1, { taskQueue, activities });
});
after(async () => {
  const bad = await c?.stop();
  assert.deepEqual(bad ?? [], [], 'processes exited badly');
});
const need = () => c.need();

clusterTest('the topology answers through both frontends', {}, async () => {
  need();
  const members = c.members(0);
  if (members) console.log(members.trim().replace(/^/gm, 'members: '));
}, get);

clusterTest('activities and timers (client on fe1, worker on fe2)', {}, async () => {
  need();
  const client = await c.client(0);
  const id = uniq('at');
  const h = await client.workflow.start('actTimer', { taskQueue, workflowId: id, args: [id, 500] });
  const r = await h.result();
  assert.equal(r.a, `${id}:1`);
  assert.equal(r.b, `${id}:2`);
  assert.ok(r.slept >= 500, `timer fired after ${r.slept} ms`);
  const { problems } = checkHistory(await h.fetchHistory(), { steps: 2 });
  assert.deepEqual(problems, []);
}, get);

clusterTest('signals, queries and updates through either frontend', {}, async () => {
  need();
  const [a, b] = [await c.client(0), await c.client(1)];
  const id = uniq('acc');
  await a.workflow.start('accumulator', { taskQueue, workflowId: id });
  await a.workflow.getHandle(id).signal('add', 1);
  await b.workflow.getHandle(id).signal('add', 2);
  assert.equal(await b.workflow.getHandle(id).executeUpdate('addUpdate', { args: [10] }), 13);
  assert.equal(await a.workflow.getHandle(id).executeUpdate('addUpdate', { args: [100] }), 113);
  assert.deepEqual(await a.workflow.getHandle(id).query('state'), { total: 113, seen: 4 });
  assert.deepEqual(await b.workflow.getHandle(id).query('state'), { total: 113, seen: 4 });
  await b.workflow.getHandle(id).signal('done');
  assert.equal(await a.workflow.getHandle(id).result(), 113);
}, get);

clusterTest('child workflows on other shards', {}, async () => {
  need();
  const client = await c.client(1);
  const ns = await c.nsId();
  // a parent whose 6 children land on at least 3 shards other than the parent's
  let id;
  for (let k = 0; ; k++) {
    id = uniq('parent');
    const mine = shardOf(ns, id, c.shards);
    const kids = new Set(Array.from({ length: 6 }, (_x, i) => shardOf(ns, `${id}-child-${i}`, c.shards)));
    kids.delete(mine);
    if (kids.size >= 3) break;
  }
  const h = await client.workflow.start('parentOf', { taskQueue, workflowId: id, args: [6] });
  const r = await resultWithin(h, 60000);
  assert.deepEqual(r, Array.from({ length: 6 }, (_x, i) => `${id}-child-${i}:1`));
  const rows = await sql(c.dbName, `SELECT DISTINCT shard_id FROM executions WHERE workflow_id LIKE '${id}%'`);
  figure(`parent and 6 children on ${rows.length} shards`);
  assert.ok(rows.length >= 3);
}, get);

clusterTest('continue-as-new', {}, async () => {
  need();
  const client = await c.client(0);
  const id = uniq('chain');
  const r = await client.workflow.execute('chain', { taskQueue, workflowId: id, args: [4, 0, 0] });
  assert.deepEqual(r, { total: 10, runs: 5 });
  const rows = await sql(c.dbName, `SELECT count(*) FROM executions WHERE workflow_id = '${id}'`);
  assert.equal(Number(rows[0][0]), 5, 'one execution row per run');
}, get);

clusterTest('visibility through the other frontend', {}, async () => {
  need();
  const [a, b] = [await c.client(0), await c.client(1)];
  const ids = [uniq('vis'), uniq('vis'), uniq('vis')];
  for (const id of ids) await a.workflow.execute('loadFlow', { taskQueue, workflowId: id, args: [id, 1] });
  const query = `WorkflowType = 'loadFlow' AND ExecutionStatus = 'Completed' AND WorkflowId STARTS_WITH '${ids[0].split('-').slice(0, 2).join('-')}'`;
  const found = await waitFor(async () => {
    const seen = [];
    for await (const w of b.workflow.list({ query })) seen.push(w.workflowId);
    return ids.every((id) => seen.includes(id)) && seen;
  }, 15000, 300);
  assert.ok(found, `listing through fe2 did not show the 3 workflows completed through fe1 (${query})`);
  const count = await b.workflow.count(`WorkflowId = '${ids[1]}'`);
  assert.equal(count.count, 1);
}, get);

clusterTest('a namespace registered through one frontend is usable through the other', {}, async () => {
  need();
  const a = await c.client(0);
  const ns = uniq('ns').replace(/-/g, '_');
  await a.workflowService.registerNamespace({ namespace: ns, workflowExecutionRetentionPeriod: { seconds: 86400 } });
  const t0 = Date.now();
  const b = await c.client(1, { namespace: ns });
  const ok = await waitFor(async () => {
    try {
      await b.workflowService.describeNamespace({ namespace: ns });
      return true;
    } catch {
      return false;
    }
  }, 15000, 200);
  figure(`namespace registered on fe1 visible on fe2 after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  assert.ok(ok, 'fe2 does not know the namespace registered through fe1 after 15 s');
  const w = await c.worker(0, { taskQueue: `${taskQueue}-ns`, namespace: ns, activities });
  const id = uniq('nsflow');
  assert.equal(await b.workflow.execute('loadFlow', { taskQueue: `${taskQueue}-ns`, workflowId: id, args: [id, 1] }), `${id}:1`);
  w.shutdown();
}, get);

clusterTest('histories in the store have no overlapping or missing batches', {}, async () => {
  need();
  assert.deepEqual(await historyNodeProblems(c), []);
}, get);
