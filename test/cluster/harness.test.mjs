// SPDX-License-Identifier: Apache-2.0
// The suite's own machinery, on what a single temporald already does: one process hosting every
// role on one of the suite's hosts, on the suite's PostgreSQL. Every host reaches PostgreSQL,
// the SDK runs workflows through the host's address, a kill -9 and restart of the process loses
// no acknowledged start, and a link cut isolates the host until it is healed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before } from 'node:test';
import { Cluster, clusterTest, topo, netns, startLoad, verifyLoad, uniq, figure, activities, sleep } from './cluster.mjs';

let c;
const get = () => c;
before(async () => {
  c = new Cluster({ layout: [['solo', 'frontend,history,matching,worker']], shards: 8 });
  await c.start();
});
after(async () => {
  const bad = await c?.stop();
  assert.deepEqual(bad ?? [], [], 'processes exited badly');
});

clusterTest('every host reaches PostgreSQL', {}, async () => {
  for (const h of topo.hosts) {
    const cmd = [topo.bin, 'schema', 'version', '--db-url', c.dbUrl, '--log-level', 'warn'];
    const out = h.ns ? execFileSync('ip', ['netns', 'exec', h.ns, ...cmd]) : execFileSync(cmd[0], cmd.slice(1));
    assert.match(out.toString(), /\d/, `schema version from ${h.name} (${h.ip})`);
  }
}, get);

clusterTest('one all-roles process on a host: SDK workflows, kill -9 and restart under load', {}, async () => {
  const taskQueue = uniq('solo');
  await c.worker(0, { taskQueue, activities });
  const client = await c.client(0);
  const r = await client.workflow.execute('actTimer', { taskQueue, workflowId: uniq('solo-at'), args: ['k', 200] });
  assert.equal(r.a, 'k:1');
  assert.equal(r.b, 'k:2');

  const prefix = uniq('solo-load');
  const load = await startLoad(c, { prefix, frontends: [0], concurrency: 3, taskQueue });
  await sleep(2000);
  const solo = c.proc('solo');
  const killedAt = await solo.kill9();
  await sleep(500);
  await solo.start();
  figure(`solo restart: serving again ${((Date.now() - killedAt) / 1000).toFixed(1)} s after kill -9`);
  await sleep(2000);
  const { acked, failed, attempts } = await load.stop();
  figure(`solo load: ${attempts} starts, ${acked.length} acknowledged, ${failed.length} failed (${[...new Set(failed.map((f) => f.code))].join(',')})`);
  assert.ok(acked.length > 0, 'no start was acknowledged');
  const v = await verifyLoad(c, acked, { prefix, via: 0 });
  figure(`solo load: every acknowledged workflow checked in ${v.seconds.toFixed(1)} s`);
  assert.deepEqual(v.problems, []);
}, get);

clusterTest('a link cut isolates the host until healed', { skip: !netns && 'no network namespaces (127.0.0.x fallback)' }, async () => {
  const solo = c.proc('solo');
  const client = await c.client(0, { retries: false });
  await client.workflowService.getSystemInfo({});
  solo.link(false);
  try {
    await assert.rejects(client.connection.withDeadline(Date.now() + 1500, () => client.workflowService.getSystemInfo({})),
      'a call reached the host while its link was down');
  } finally {
    solo.link(true);
  }
  const ok = await c.client(0);
  await ok.workflowService.getSystemInfo({});
  assert.ok(solo.alive(), 'the process kept running through the cut');
}, get);
