// SPDX-License-Identifier: Apache-2.0
// A full disk under a real temporald (SQLite): the database lives on a small tmpfs mounted for
// the test. While the disk is full, writes answer UNAVAILABLE, reads (Describe, List, history)
// keep working and the retry loops back off (the log stays small); once space is freed every
// acknowledged workflow completes. Then the same after a SIGKILL and a restart on the full disk,
// with only a little space given back. Needs root to mount; skipped otherwise (and on
// PostgreSQL, whose files are not temporald's). Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, writeSync, closeSync, rmSync, readFileSync, statfsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { TemporaldServer, freePort, sdkClient, sdkWorker, sdkTest, backend, uniq, sleep, waitFor, workflowBundle } from './harness.mjs';

const { Connection, Client } = sdkClient;
const { NativeConnection, Worker } = sdkWorker;
const UNAVAILABLE = 14;
const mountBytes = 24 << 20;

const top = mkdtempSync(path.join(tmpdir(), 'td-diskfull-'));
const mnt = path.join(top, 'mnt');
mkdirSync(mnt);
// A tmpfs of its own: mounting needs root (CAP_SYS_ADMIN).
function tryMount() {
  if (backend !== 'sqlite') return 'the database is PostgreSQL, not a file of temporald';
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mountBytes},mode=0755`, 'tmpfs', mnt], { encoding: 'utf8' });
  if (r.status !== 0) return `cannot mount a tmpfs (${(r.stderr || r.error?.message || '').trim()}); needs root`;
  return null;
}
const skip = tryMount();
after(async () => {
  if (!skip) spawnSync('umount', ['-l', mnt]);
  rmSync(top, { recursive: true, force: true });
  // The SDK runtime (native threads) would keep this test process alive.
  await sdkWorker.Runtime._instance?.shutdown().catch(() => {});
});

// Fills the mount with filler files up to ENOSPC, keeping `leave` bytes free. Returns the paths.
let fillSeq = 0;
function fill(leave = 0) {
  const files = [];
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  for (;;) {
    const f = path.join(mnt, `filler-${++fillSeq}`);
    files.push(f);
    const fd = openSync(f, 'w');
    try {
      for (let i = 0; i < 64; i++) {
        const free = statfsSync(mnt).bavail * statfsSync(mnt).bsize;
        if (free <= leave) return files;
        const n = Math.min(chunk.length, free - leave);
        writeSync(fd, chunk, 0, n);
      }
    } catch (err) {
      if (err.code === 'ENOSPC') return files;
      throw err;
    } finally {
      closeSync(fd);
    }
  }
}
const freeBytes = () => statfsSync(mnt).bavail * statfsSync(mnt).bsize;

function retryLines(server) {
  return readFileSync(server.logFile, 'utf8')
    .split('\n')
    .filter((l) => /\b(warn|error)\b/.test(l)).length;
}

// Starts workflows until one answers UNAVAILABLE (at most `max` tries); returns the ids of those
// that were acknowledged and the error that ended it.
async function startUntilFull(client, taskQueue, max = 400) {
  const acked = [];
  for (let i = 0; i < max; i++) {
    const id = uniq('full');
    try {
      await client.workflow.start('hello', { taskQueue, workflowId: id, args: [id] });
      acked.push(id);
    } catch (err) {
      return { acked, err: err.cause ?? err };
    }
  }
  return { acked, err: null };
}

async function waitCompleted(client, ids, ms) {
  const pending = new Set(ids);
  const end = Date.now() + ms;
  while (pending.size && Date.now() < end) {
    for (const id of [...pending]) {
      try {
        const d = await client.workflow.getHandle(id).describe();
        if (d.status.name === 'COMPLETED') pending.delete(id);
      } catch {}
    }
    if (pending.size) await sleep(500);
  }
  return [...pending];
}

sdkTest('a full disk fails writes with UNAVAILABLE, keeps reads, and every acknowledged workflow completes once space returns, also after a restart on the full disk', { skip: skip ?? false, timeout: 240000 }, async () => {
  const dir = path.join(top, 'server');
  mkdirSync(dir);
  const server = new TemporaldServer({ port: await freePort(), dir });
  server.dbFile = path.join(mnt, 'temporald.db');
  let connection, native;
  try {
    await server.start();
    // No client-side retries: a start on the full disk must answer at once, and reads must
    // succeed on their first try.
    connection = await Connection.connect({ address: server.address, interceptors: [] });
    const client = new Client({ connection, namespace: 'default' });
    native = await NativeConnection.connect({ address: server.address });
    const taskQueue = uniq('diskfull');
    let ran = 0;
    const activities = { greet: async (n) => (ran++, `Hello, ${n}!`) };

    // Some workflows acknowledged before the disk fills; no worker yet, so their tasks wait in
    // matching's backlog.
    const before = [];
    for (let i = 0; i < 20; i++) {
      const id = uniq('before');
      await client.workflow.start('hello', { taskQueue, workflowId: id, args: [id] });
      before.push(id);
    }
    const fillers = fill();
    const { acked, err } = await startUntilFull(client, taskQueue);
    assert.ok(err, `${acked.length} starts on a full disk all succeeded`);
    assert.equal(err.code, UNAVAILABLE, `a start on a full disk: ${err.message}`);
    const ackedAll = [...before, ...acked];
    const walFull = statSync(server.dbFile + '-wal').size;

    // A worker while the disk stays full: nothing can complete, the retries must back off.
    const worker = await Worker.create({
      connection: native,
      namespace: 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities,
      shutdownGraceTime: '1s',
    });
    const run = worker.run();
    try {
      const lines0 = retryLines(server);
      const t0 = Date.now();
      // Reads are served throughout.
      for (let i = 0; i < 10; i++) {
        const d = await client.workflow.getHandle(before[i % before.length]).describe();
        assert.equal(d.workflowId, before[i % before.length]);
        await client.workflow.getHandle(before[0]).fetchHistory();
        await sleep(1000);
      }
      const lines = retryLines(server) - lines0;
      const secs = (Date.now() - t0) / 1000;
      console.error(`# full disk: ${lines} warn/error log lines in ${secs.toFixed(1)} s with a worker polling`);
      // Unbounded retry loops wrote hundreds of lines a minute; backed-off ones a few.
      assert.ok(lines <= 10 + 3 * secs, `${lines} warn/error log lines in ${secs.toFixed(1)} s on a full disk:\n${server.logTail(20)}`);

      // Space returns: everything acknowledged completes.
      for (const f of fillers) rmSync(f, { force: true });
      const left = await waitCompleted(client, ackedAll, 90000);
      assert.deepEqual(left, [], `${left.length} of ${ackedAll.length} acknowledged workflows did not complete after space returned:\n${server.logTail(20)}`);
      // The space freed stays free: the WAL gave its space back instead of growing into it.
      const wal = statSync(server.dbFile + '-wal').size;
      assert.ok(freeBytes() > mountBytes / 2, `${freeBytes()} of ${mountBytes} bytes free after recovery (WAL ${wal} bytes, ${walFull} when the disk was full)`);
    } finally {
      worker.shutdown();
      await run.catch(() => {});
    }

    // Full again, with new workflows acknowledged (no worker), then a crash and a restart on the
    // full disk: the server comes up and serves reads.
    const q2 = uniq('diskfull2');
    const before2 = [];
    for (let i = 0; i < 10; i++) {
      const id = uniq('before2');
      await client.workflow.start('hello', { taskQueue: q2, workflowId: id, args: [id] });
      before2.push(id);
    }
    const fillers2 = fill();
    const r2 = await startUntilFull(client, q2);
    assert.ok(r2.err && r2.err.code === UNAVAILABLE, `second fill: ${r2.err?.message}`);
    const acked2 = [...before2, ...r2.acked];
    await server.kill();
    await server.start();
    for (const id of acked2.slice(0, 5)) {
      const d = await client.workflow.getHandle(id).describe();
      assert.equal(d.status.name, 'RUNNING');
    }
    // A little space back (the disk stays tight): the workflows complete.
    rmSync(fillers2.pop(), { force: true });
    rmSync(fillers2.pop(), { force: true });
    const w2 = await Worker.create({
      connection: native,
      namespace: 'default',
      taskQueue: q2,
      workflowBundle: await workflowBundle(),
      activities,
      shutdownGraceTime: '1s',
    });
    const run2 = w2.run();
    try {
      const left2 = await waitCompleted(client, acked2, 90000);
      assert.deepEqual(left2, [], `${left2.length} of ${acked2.length} workflows did not complete after the restart (free ${freeBytes()} bytes):\n${server.logTail(20)}`);
    } finally {
      w2.shutdown();
      await run2.catch(() => {});
    }
  } finally {
    await native?.close().catch(() => {});
    await connection?.close().catch(() => {});
    await server.stop();
    if (process.env.TD_DISKFULL_LOG) spawnSync('cp', [server.logFile, process.env.TD_DISKFULL_LOG]);
  }
  // On a sanitizer build: no report in the log (leaks are reported at the SIGTERM exit above).
  const san = server.sanitizerReport();
  assert.ok(!san, san ?? '');
});
