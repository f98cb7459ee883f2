// SPDX-License-Identifier: Apache-2.0
// Roles split across processes on 127.0.0.1, one PostgreSQL (PG_URL, from test/route/run.sh):
// two frontend-only processes, two history processes and a matching+worker process, members of
// one cluster through SWIM ([cluster] seeds). Checks, through the real TypeScript SDK
// connected to the frontend process:
//   1. workflows (activity, timers, signals) run, their shards spread over both history
//      processes, every shard owned by exactly one;
//   2. a namespace registered through one frontend is usable through the other within 10 s
//      (registries refresh from the store);
//   3. kill -9 of one history process: the other owns all its shards within 10 s, and
//      workflows started before the kill (timers firing after it) and after it complete;
//   4. restarting it moves its shards back, and work keeps completing; a SIGTERM then hands
//      them over again (graceful drain) and the process exits 0;
//   5. [tls.internode]: processes speaking mutual TLS run workflows, and the internal port
//      refuses a peer without a valid certificate;
//   6. SQLite refuses a second temporald process on the same file.
// Prints TAP lines and closes with "N passed, N failed". Figures (detection and move times)
// go to stdout as comments.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { sdkClient, sdkWorker, workflowBundle, freePort, uniq, sleep, temporaldBin, root } from '../sdk/harness.mjs';

const grpc = createRequire(path.join(root, 'test', 'js', 'package.json'))('@grpc/grpc-js');

// A CA and one certificate for 127.0.0.1 that every process presents as server and client.
function makeCerts(into) {
  const run = (...args) => execFileSync('openssl', args, { cwd: into, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=temporald internode test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'node.key', '-out', 'node.csr', '-subj', '/CN=temporald node');
  writeFileSync(path.join(into, 'node.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run('x509', '-req', '-in', 'node.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'node.pem',
    '-days', '2', '-extfile', 'node.ext');
  return { ca: path.join(into, 'ca.pem'), cert: path.join(into, 'node.pem'), key: path.join(into, 'node.key') };
}

// grpc.health.v1.Health/Check of "" at address: 0 when answered, else the gRPC status code.
function healthCheck(address, creds) {
  const c = new grpc.Client(address, creds);
  return new Promise((resolve) => {
    c.makeUnaryRequest('/grpc.health.v1.Health/Check', () => Buffer.alloc(0), (b) => b, {}, { deadline: Date.now() + 5000 },
      (err) => {
        c.close();
        resolve(err ? err.code || -1 : 0);
      });
  });
}

const pgUrl = process.env.PG_URL;
if (!pgUrl) {
  console.log('# PG_URL is not set (test/route/run.sh sets it)');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const dir = mkdtempSync(path.join(tmpdir(), 'td-route-'));
const NSHARDS = 8;
let passed = 0;
let failed = 0;
let n = 0;
function ok(cond, name, detail = '') {
  n++;
  if (cond) {
    passed++;
    console.log(`ok ${n} - ${name}`);
  } else {
    failed++;
    console.log(`not ok ${n} - ${name}${detail ? `\n# ${detail.split('\n').join('\n# ')}` : ''}`);
  }
  return cond;
}

const procs = new Map(); // name -> { proc, log, ini }
process.on('exit', () => {
  for (const p of procs.values()) {
    try {
      if (p.proc && p.proc.exitCode === null) process.kill(p.proc.pid, 'SIGKILL');
    } catch {}
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => process.exit(130));

async function ports(k) {
  const v = [];
  for (let i = 0; i < k; i++) v.push(await freePort());
  return v;
}

const P = {};
for (const name of ['fe', 'fe2', 'h1', 'h2', 'm1']) {
  const [fp, fm, hp, hm, mp, mm, wp, wm] = await ports(8);
  P[name] = { fp, fm, hp, hm, mp, mm, wp, wm };
}
// SWIM seeds: the membership port of every role of every process
const seedsOf = (ps, svc) => Object.entries(ps).flatMap(([name, p]) => svc[name].split(',').map((r) =>
  `127.0.0.1:${{ frontend: p.fm, history: p.hm, matching: p.mm, worker: p.wm }[r]}`)).join(',');
const services = { fe: 'frontend', fe2: 'frontend', h1: 'history', h2: 'history', m1: 'matching,worker' };
const members = seedsOf(P, services);

function writeIni(name) {
  const p = P[name];
  const ini = path.join(dir, `${name}.ini`);
  writeFileSync(
    ini,
    `[server]
ip = 127.0.0.1
services = ${services[name]}
log_level = info
drain_timeout_ms = 5000
[frontend]
port = ${p.fp}
membership_port = ${p.fm}
http_port = 0
[history]
port = ${p.hp}
membership_port = ${p.hm}
num_shards = ${NSHARDS}
[matching]
port = ${p.mp}
membership_port = ${p.mm}
[worker]
port = ${p.wp}
membership_port = ${p.wm}
[persistence]
url = ${pgUrl}
[cluster]
seeds = ${members}
`,
  );
  return ini;
}

function start(name) {
  const ini = writeIni(name);
  const log = path.join(dir, `${name}.log`);
  const fd = openSync(log, 'a');
  const proc = spawn(temporaldBin, ['start', '--config', ini], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  procs.set(name, { proc, log, ini });
  return proc;
}

function logOf(name) {
  try {
    return readFileSync(procs.get(name).log, 'utf8');
  } catch {
    return '';
  }
}

// Shards a history process owns now, from its log ("shard N owned" / "released" / "lost").
function ownedShards(name, text = logOf(name)) {
  const owned = new Set();
  for (const line of text.split('\n')) {
    let m = line.match(/shard (\d+) owned/);
    if (m) owned.add(Number(m[1]));
    m = line.match(/shard (\d+) (released|lost)/);
    if (m) owned.delete(Number(m[1]));
  }
  return owned;
}

async function waitFor(fn, ms, step = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return null;
    await sleep(step);
  }
}

async function killHard(name) {
  const p = procs.get(name).proc;
  if (p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  process.kill(p.pid, 'SIGKILL');
  await gone;
}

async function stopGracefully(name) {
  const p = procs.get(name).proc;
  if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
  const gone = new Promise((r) => p.once('exit', (code) => r(code)));
  process.kill(p.pid, 'SIGTERM');
  const t = setTimeout(() => process.kill(p.pid, 'SIGKILL'), 15000);
  const code = await gone;
  clearTimeout(t);
  return code;
}

function tail(name, lines = 30) {
  return logOf(name).split('\n').slice(-lines).join('\n');
}

let exitCode = 1;
try {
  for (const name of ['h1', 'h2', 'm1', 'fe', 'fe2']) start(name);
  const address = `127.0.0.1:${P.fe.fp}`;
  const connection = await waitFor(async () => {
    try {
      return await sdkClient.Connection.connect({ address, connectTimeout: 1000 });
    } catch {
      return null;
    }
  }, 20000, 200);
  if (!ok(connection !== null, 'the frontend-only process serves', tail('fe'))) throw new Error('no frontend');
  const client = new sdkClient.Client({ connection, namespace: 'default' });

  // Both history processes take their ring shares: every shard owned by exactly one.
  const split = await waitFor(() => {
    const a = ownedShards('h1');
    const b = ownedShards('h2');
    const both = [...a].filter((s) => b.has(s));
    return a.size + b.size === NSHARDS && both.length === 0 && a.size > 0 && b.size > 0 ? [a, b] : null;
  }, 15000);
  ok(split !== null, 'the shards split over both history processes, each shard owned once',
    `h1 ${[...ownedShards('h1')]} h2 ${[...ownedShards('h2')]}\n${tail('h1', 10)}\n${tail('h2', 10)}`);
  if (split) console.log(`# h1 owns shards ${[...split[0]].sort((x, y) => x - y)}, h2 owns ${[...split[1]].sort((x, y) => x - y)}`);

  const wconn = await sdkWorker.NativeConnection.connect({ address });
  const taskQueue = uniq('route');
  const worker = await sdkWorker.Worker.create({
    connection: wconn,
    namespace: 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: { async greet(name) { return `Hello, ${name}!`; } },
  });
  const running = worker.run();

  async function batch(label, count) {
    const ids = Array.from({ length: count }, (_, i) => uniq(`${label}-${i}`));
    const handles = await Promise.all(ids.map((workflowId, i) =>
      client.workflow.start('hello', { taskQueue, workflowId, args: [`${label}${i}`] })));
    const results = await Promise.all(handles.map((h) => h.result()));
    return results.every((r, i) => r === `Hello, ${label}${i}!`) ? results.length : -1;
  }

  ok((await batch('split', 16)) === 16, '16 workflows with an activity complete through the frontend-only process');

  // signals and a query across processes
  {
    const h = await client.workflow.start('collect', { taskQueue, workflowId: uniq('collect'), args: [3] });
    for (const v of ['a', 'b', 'c']) await h.signal('add', v);
    const res = await h.result();
    ok(JSON.stringify(res) === JSON.stringify(['a', 'b', 'c']), 'signals reach a workflow on another process', JSON.stringify(res));
  }

  // a namespace registered through one frontend works through the other (its registry
  // refreshes from the store)
  {
    const ns = `route-ns-${process.pid}`;
    await connection.workflowService.registerNamespace({
      namespace: ns,
      workflowExecutionRetentionPeriod: { seconds: 86400 },
    });
    const conn2 = await sdkClient.Connection.connect({ address: `127.0.0.1:${P.fe2.fp}` });
    const c2 = new sdkClient.Client({ connection: conn2, namespace: ns });
    const t0 = Date.now();
    const started = await waitFor(async () => {
      try {
        return await c2.workflow.start('timers', { taskQueue: 'nobody', workflowId: uniq('ns') , args: [10] });
      } catch {
        return null;
      }
    }, 10000, 250);
    ok(started !== null, 'a namespace registered through one frontend is usable through the other within 10 s');
    if (started) console.log(`# new namespace usable through the other frontend after ${Date.now() - t0} ms`);
    await conn2.close();
  }

  // kill -9 of h2 while timers are pending
  const pending = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    client.workflow.start('timers', { taskQueue, workflowId: uniq(`timer-${i}`), args: [3000] })));
  const h2Shards = ownedShards('h2');
  const killedAt = Date.now();
  await killHard('h2');
  const moved = await waitFor(() => {
    const a = ownedShards('h1');
    return a.size === NSHARDS ? a : null;
  }, 10000);
  ok(moved !== null, 'after kill -9 of one history process the other owns all shards within 10 s',
    `h1 owns ${[...ownedShards('h1')]}\n${tail('h1', 15)}`);
  if (moved) console.log(`# shards ${[...h2Shards]} moved to h1 ${Date.now() - killedAt} ms after the kill`);
  const timerResults = await Promise.all(pending.map((h) => h.result()));
  ok(timerResults.every((r) => r.cancelled === true && r.elapsed >= 2900),
    'workflows whose timers fire after the kill complete', JSON.stringify(timerResults));
  ok((await batch('survivor', 12)) === 12, 'new workflows complete on the surviving history process');

  // restart h2: its shards come back
  const restartAt = Date.now();
  const before = logOf('h1').length;
  start('h2');
  const back = await waitFor(() => {
    const b = ownedShards('h2');
    const a = ownedShards('h1');
    return b.size > 0 && a.size + b.size === NSHARDS && [...a].every((s) => !b.has(s)) ? b : null;
  }, 15000);
  ok(back !== null && logOf('h1').slice(before).includes('released'),
    'the restarted history process takes its shards back from the other',
    `h1 ${[...ownedShards('h1')]} h2 ${[...ownedShards('h2')]}\n${tail('h2', 15)}`);
  if (back) console.log(`# shards ${[...back]} back on h2 ${Date.now() - restartAt} ms after its restart`);
  ok((await batch('back', 16)) === 16, 'workflows complete after the shards moved back');

  // graceful stop of a history process under load: it hands its shards over, exits 0, and
  // no workflow fails
  {
    const stopAt = Date.now();
    const load = batch('drain', 16);
    const code = stopGracefully('h2');
    const handed = await waitFor(() => (ownedShards('h1').size === NSHARDS ? true : null), 10000);
    ok(handed !== null, 'a history process stopped with SIGTERM hands all its shards over',
      `h1 owns ${[...ownedShards('h1')]}\n${tail('h2', 15)}`);
    if (handed) console.log(`# shards on h1 ${Date.now() - stopAt} ms after SIGTERM to h2`);
    ok((await code) === 0, 'the stopped history process exits 0', tail('h2', 15));
    ok((await load) === 16, 'workflows running through the stop complete');
  }
  worker.shutdown();
  await running;
  await connection.close();
  await wconn.close();
  exitCode = failed === 0 ? 0 : 1;
} catch (err) {
  ok(false, 'the cluster run ended early', `${err.stack}\nfe:\n${tail('fe')}\nh1:\n${tail('h1')}\nh2:\n${tail('h2')}\nm1:\n${tail('m1')}`);
}
for (const name of procs.keys()) await killHard(name);

// [tls.internode]: a frontend, a history and a matching process speaking mutual TLS to each
// other run a workflow; a peer without a certificate is refused by the internal port.
{
  const certs = makeCerts(dir);
  const tlsP = {};
  for (const name of ['tfe', 'th', 'tm']) {
    const [fp, fm, hp, hm, mp, mm, wp, wm] = await ports(8);
    tlsP[name] = { fp, fm, hp, hm, mp, mm, wp, wm };
  }
  const tlsServices = { tfe: 'frontend', th: 'history', tm: 'matching,worker' };
  const tlsMembers = seedsOf(tlsP, tlsServices);
  for (const name of ['th', 'tm', 'tfe']) {
    const p = tlsP[name];
    const ini = path.join(dir, `${name}.ini`);
    writeFileSync(ini, `[server]
ip = 127.0.0.1
services = ${tlsServices[name]}
log_level = info
[frontend]
port = ${p.fp}
membership_port = ${p.fm}
http_port = 0
[history]
port = ${p.hp}
membership_port = ${p.hm}
num_shards = ${NSHARDS}
[matching]
port = ${p.mp}
membership_port = ${p.mm}
[worker]
port = ${p.wp}
membership_port = ${p.wm}
[persistence]
url = ${pgUrl}
[cluster]
seeds = ${tlsMembers}
[tls.internode]
cert_file = ${certs.cert}
key_file = ${certs.key}
ca_file = ${certs.ca}
`);
    const log = path.join(dir, `${name}.log`);
    const fd = openSync(log, 'a');
    const proc = spawn(temporaldBin, ['start', '--config', ini], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    procs.set(name, { proc, log, ini });
  }
  try {
    const address = `127.0.0.1:${tlsP.tfe.fp}`;
    const connection = await waitFor(async () => {
      try {
        return await sdkClient.Connection.connect({ address, connectTimeout: 1000 });
      } catch {
        return null;
      }
    }, 20000, 200);
    const client = new sdkClient.Client({ connection, namespace: 'default' });
    const wconn = await sdkWorker.NativeConnection.connect({ address });
    const taskQueue = uniq('route-tls');
    const worker = await sdkWorker.Worker.create({
      connection: wconn,
      namespace: 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: { async greet(name) { return `Hello, ${name}!`; } },
    });
    const res = await worker.runUntil(async () => {
      const hs = await Promise.all([0, 1, 2, 3].map((i) =>
        client.workflow.start('hello', { taskQueue, workflowId: uniq('tls'), args: [`t${i}`] })));
      return Promise.all(hs.map((h) => h.result()));
    });
    ok(res.join() === 'Hello, t0!,Hello, t1!,Hello, t2!,Hello, t3!', 'roles split across processes run workflows over mutual TLS');
    await connection.close();
    await wconn.close();
    const plain = await healthCheck(`127.0.0.1:${tlsP.th.hp}`, grpc.credentials.createInsecure());
    const noCert = await healthCheck(`127.0.0.1:${tlsP.th.hp}`, grpc.credentials.createSsl(readFileSync(certs.ca)));
    const withCert = await healthCheck(`127.0.0.1:${tlsP.th.hp}`,
      grpc.credentials.createSsl(readFileSync(certs.ca), readFileSync(certs.key), readFileSync(certs.cert)));
    ok(plain !== 0 && noCert !== 0 && withCert === 0,
      'the internal port refuses a peer without a valid certificate (cleartext, TLS without a client certificate)',
      `cleartext ${plain}, no client certificate ${noCert}, with one ${withCert}`);
  } catch (err) {
    ok(false, 'the mutual TLS cluster ran', `${err.stack}\n${tail('th')}\n${tail('tfe')}`);
  }
  for (const name of ['tfe', 'th', 'tm']) await killHard(name);
}

// SQLite: one process per file
{
  const db = path.join(dir, 'one.db');
  const [p1, p2] = await ports(2);
  const first = spawn(temporaldBin, ['start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(p1), '--db-filename', db, '--log-level', 'warn'], { stdio: 'ignore' });
  await sleep(1500);
  const second = spawnSync(temporaldBin, ['start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(p2), '--db-filename', db, '--log-level', 'warn'], { encoding: 'utf8', timeout: 15000 });
  ok(second.status !== 0 && /in use by another temporald process/.test(second.stderr + second.stdout),
    'SQLite refuses a second temporald process on the same file', `status ${second.status}: ${second.stderr}`);
  first.kill('SIGKILL');
}
if (failed > 0) console.log(`# logs kept in ${dir}`);
else rmSync(dir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? exitCode : 1);
