// SPDX-License-Identifier: Apache-2.0
// The full topology under load through both frontends while processes crash, hosts are cut off
// and every process restarts in turn. What is checked comes from histories and the store: every
// acknowledged start completes once with a correct history, no activity task is delivered
// twice, no history batches overlap (two writers of one shard would leave that), failed client
// calls carry only codes the SDK retries. Times (shard take-over, failure detection) are
// printed as figures, never asserted. The short form (make test) runs the history kill -9
// round; the long form (TD_CLUSTER_LONG=1) runs every round with more load.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import {
  Cluster, clusterTest, activities, uniq, sleep, figure, note, startLoad, verifyLoad, shardsServedAfter,
  longForm, netns, retryableCodes, grpcName,
} from './cluster.mjs';

let c;
const get = () => c;
const taskQueue = uniq('load');
const concurrency = longForm ? 8 : 4;
const longOnly = !longForm && 'long form only (TD_CLUSTER_LONG=1, make test-cluster-long)';
before(async () => {
  c = new Cluster();
  await c.start();
  try {
    await c.requireRouting();
  } catch (err) {
    c.routingProblem = err.message;
    return;
  }
  await c.worker(0, { taskQueue, activities });
  await c.worker(1, { taskQueue, activities });
});
after(async () => {
  const bad = await c?.stop();
  assert.deepEqual(bad ?? [], [], 'processes exited badly');
});
const need = () => c.need();

// Polls `temporald cluster members` until the member at ADDR is no longer alive; seconds since
// `since`, or null (no such command, or not seen within ms).
async function deadAfter(addr, since, via, ms = 30000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const out = c.members(via);
    if (out === null) return null;
    const line = out.split('\n').find((l) => l.includes(addr));
    if (!line || /dead|suspect|left|faulty/i.test(line)) return (Date.now() - since) / 1000;
    await sleep(200);
  }
  return null;
}

// Shards whose range_id grew between two readings (acquired by some process in between).
const moved = (before, now) => [...now].filter(([s, r]) => r > (before.get(s) ?? 0)).map(([s]) => s);

function report(name, { acked, failed, attempts }) {
  const codes = {};
  for (const f of failed) codes[grpcName(f.code)] = (codes[grpcName(f.code)] ?? 0) + 1;
  figure(`${name}: ${attempts} starts, ${acked.length} acknowledged, ${failed.length} failed ${JSON.stringify(codes)}`);
}

// Kills `victim` with SIGKILL under load, measures how long until every shard answers again,
// restarts it, and checks everything acknowledged.
async function killRound(victimName, { frontends = [0, 1], probeVia = 0, restartAfterMs = 3000 } = {}) {
  need();
  const victim = c.proc(victimName);
  const prefix = uniq(`kill-${victimName}`);
  const load = await startLoad(c, { prefix, frontends, concurrency, taskQueue });
  await sleep(longForm ? 5000 : 3000);
  const ranges0 = await c.shardRanges();
  const killedAt = await victim.kill9();
  const [served, dead] = await Promise.all([
    shardsServedAfter(c, killedAt, probeVia, 60000),
    deadAfter(victim.ip, killedAt, probeVia),
  ]);
  const ranges1 = await c.shardRanges();
  figure(`kill -9 ${victimName}: every shard served through ${c.frontends[probeVia].name} ${served.seconds === null ? `NOT within 60 s (unserved: ${served.bad.join(',')})` : `${served.seconds.toFixed(1)} s`} after the kill (target 10 s); ${moved(ranges0, ranges1).length} shards re-acquired; failure detected ${dead === null ? '(no member view)' : `${dead.toFixed(1)} s`} after the kill`);
  await sleep(restartAfterMs);
  const restartAt = Date.now();
  await victim.start();
  const back = await shardsServedAfter(c, restartAt, probeVia, 60000);
  await sleep(3000);
  const ranges2 = await c.shardRanges();
  figure(`restart of ${victimName}: all shards served ${back.seconds === null ? 'NOT within 60 s' : `${back.seconds.toFixed(1)} s`} after its start; ${moved(ranges1, ranges2).length} shards changed hands`);
  await sleep(2000);
  const stats = await load.stop();
  report(`kill -9 ${victimName}`, stats);
  assert.ok(stats.acked.length > 0, 'no start was acknowledged');
  const v = await verifyLoad(c, stats.acked, { prefix, via: probeVia, ms: longForm ? 180000 : 120000 });
  figure(`kill -9 ${victimName}: ${stats.acked.length} acknowledged workflows completed and checked ${v.seconds.toFixed(1)} s after the load stopped`);
  assert.deepEqual(v.problems, []);
  assert.equal(served.seconds !== null, true, `shards of ${victimName} were never served again: ${served.bad.join(',')}`);
  return stats;
}

clusterTest('kill -9 of a history process under load, then its restart', { timeout: 600000 }, async () => {
  await killRound('hi2');
}, get);

clusterTest('kill -9 of a matching process under load: no task lost or delivered twice', { skip: longOnly, timeout: 600000 }, async () => {
  await killRound('ma1');
}, get);

clusterTest('kill -9 of a frontend: clients of the other frontend never notice', { skip: longOnly, timeout: 600000 }, async () => {
  const stats = await killRound('fe1', { frontends: [1], probeVia: 1 });
  assert.deepEqual(stats.failed.map((f) => `${f.id}: ${grpcName(f.code)} ${f.message}`), [], 'calls through fe2 failed while fe1 was down');
}, get);

clusterTest('a history host cut off for 20 s, then healed: no shard has two writers, nothing acknowledged lost', { skip: longOnly || (!netns && 'link faults need network namespaces'), timeout: 600000 }, async () => {
  need();
  const victim = c.proc('hi1');
  const prefix = uniq('cut');
  const load = await startLoad(c, { prefix, concurrency, taskQueue });
  await sleep(5000);
  const ranges0 = await c.shardRanges();
  const cutAt = Date.now();
  victim.link(false);
  let served;
  try {
    served = await shardsServedAfter(c, cutAt, 0, 20000);
    const left = 20000 - (Date.now() - cutAt);
    if (left > 0) await sleep(left);
  } finally {
    victim.link(true);
  }
  const ranges1 = await c.shardRanges();
  figure(`link down hi1: every shard served by the others ${served.seconds === null ? 'NOT within 20 s' : `${served.seconds.toFixed(1)} s`} after the cut; ${moved(ranges0, ranges1).length} shards re-acquired`);
  const healAt = Date.now();
  const back = await shardsServedAfter(c, healAt, 0, 60000);
  figure(`link up hi1: all shards served ${back.seconds === null ? 'NOT within 60 s' : `${back.seconds.toFixed(1)} s`} after healing; ${moved(ranges1, await c.shardRanges()).length} shards changed hands`);
  assert.ok(victim.alive(), 'hi1 exited during the cut');
  // it gave up its shards: the others took them (range_id bumped in the store) during the cut
  assert.ok(moved(ranges0, ranges1).length > 0, 'no shard of the cut-off host was taken over during the 20 s cut');
  await sleep(3000);
  const stats = await load.stop();
  report('link cut', stats);
  const v = await verifyLoad(c, stats.acked, { prefix, ms: 180000 });
  assert.deepEqual(v.problems, []);
}, get);

clusterTest('rolling restart of every process under load: nothing lost, only retryable failures', { skip: longOnly, timeout: 600000 }, async () => {
  need();
  const prefix = uniq('roll');
  const load = await startLoad(c, { prefix, concurrency, taskQueue });
  await sleep(3000);
  for (const p of c.procs) {
    const t0 = Date.now();
    const exit = await p.stop(30000);
    await p.start();
    const probeVia = p.name === 'fe1' ? 1 : 0;
    const served = await shardsServedAfter(c, t0, probeVia, 60000);
    figure(`rolling restart ${p.name}: exit ${exit?.code ?? exit?.signal}, every shard served ${served.seconds === null ? 'NOT within 60 s' : `${served.seconds.toFixed(1)} s`} after its stop began`);
    assert.equal(exit?.code, 0, `${p.name} did not exit 0 on SIGTERM: ${JSON.stringify(exit)}`);
    await sleep(2000);
  }
  const stats = await load.stop();
  report('rolling restart', stats);
  const bad = stats.failed.filter((f) => !retryableCodes.has(f.code));
  assert.deepEqual(bad.map((f) => `${f.id}: ${grpcName(f.code)} ${f.message}`), [], 'calls failed with codes the SDK does not retry');
  const v = await verifyLoad(c, stats.acked, { prefix, ms: 180000 });
  assert.deepEqual(v.problems, []);
}, get);
