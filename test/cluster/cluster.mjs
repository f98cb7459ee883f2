// SPDX-License-Identifier: Apache-2.0
// The harness of the cluster suite. run.sh builds the hosts (network namespaces on a bridge, or
// 127.0.0.x addresses) and PostgreSQL and writes their description to TD_CLUSTER_TOPOLOGY; this
// module runs temporald processes on those hosts (`ip netns exec HOST temporald start --config
// ...`, each with a config file it writes), gives tests TypeScript SDK clients and workers
// through either frontend, cuts and heals host links, reads the database (psql as the
// superuser of the suite's private cluster), and checks what the cluster did from histories
// and tables. Process logs go to DIR/logs/NAME.log (appended across restarts) and their tails
// are printed when a test fails. Figures are printed ("# figure: ..."), never asserted.
// Only test/cluster/*.test.mjs use it.
import { spawn, execFile, execFileSync } from 'node:child_process';
import { openSync, closeSync, mkdirSync, readFileSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';

export const root = path.resolve(import.meta.dirname, '..', '..');
if (!process.env.TD_CLUSTER_TOPOLOGY) throw new Error('TD_CLUSTER_TOPOLOGY is not set: run the suite with test/cluster/run.sh');
export const topo = JSON.parse(readFileSync(process.env.TD_CLUSTER_TOPOLOGY, 'utf8'));
export const longForm = topo.long === 1;
export const netns = topo.mode === 'netns';
const pgCluster = path.join(root, 'scripts', 'pg-cluster.sh');
const logDir = path.join(topo.dir, 'logs');
mkdirSync(logDir, { recursive: true });

const jsRequire = createRequire(path.join(root, 'test', 'js', 'package.json'));
export const sdkClient = jsRequire('@temporalio/client');
export const sdkWorker = jsRequire('@temporalio/worker');
export const sdkActivity = jsRequire('@temporalio/activity');
export const sdkCommon = jsRequire('@temporalio/common');
export const sdkProto = jsRequire('@temporalio/proto');
const jsNodeModules = path.join(root, 'test', 'js', 'node_modules');
const { Connection, Client } = sdkClient;
const { NativeConnection, Worker, Runtime, makeTelemetryFilterString } = sdkWorker;

const sdkLog = [];
Runtime.install({
  logger: new sdkWorker.DefaultLogger('WARN', (e) => {
    sdkLog.push(`${e.level} ${e.message}`);
    if (sdkLog.length > 200) sdkLog.splice(0, sdkLog.length - 200);
  }),
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
});

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const figure = (text) => console.log(`figure: ${text}`);
export const note = (text) => console.log(text);
let seq = 0;
export const uniq = (prefix) => `${prefix}-${process.pid}-${++seq}-${randomUUID().slice(0, 6)}`;

// Polls fn until it returns a truthy value or ms pass; returns the last value.
export async function waitFor(fn, ms = 10000, step = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(step);
  }
}

// The workflow bundle run.sh prebuilt (TD_CLUSTER_TOPOLOGY's "bundle"), or built here.
export function buildBundle() {
  return sdkWorker.bundleWorkflowCode({
    workflowsPath: path.join(import.meta.dirname, 'workflows.mjs'),
    logger: new sdkWorker.DefaultLogger('WARN'),
    webpackConfigHook: (config) => {
      config.resolve.modules = [...(config.resolve.modules ?? []), jsNodeModules];
      config.resolveLoader = { ...(config.resolveLoader ?? {}), modules: [jsNodeModules, 'node_modules'] };
      return config;
    },
  });
}
const bundle = () => ({ code: readFileSync(topo.bundle, 'utf8') });

// ---- the database ----

// Runs SQL as the superuser on database db; resolves to rows of tab-separated fields.
export function sql(db, query) {
  return new Promise((resolve, reject) => {
    execFile(pgCluster, ['psql', topo.pgDir, '-d', db, '-v', 'ON_ERROR_STOP=1', '-F', '\t', '-c', query],
      { maxBuffer: 64 << 20 }, (err, out, stderr) => {
        if (err) return reject(new Error(`psql ${query}: ${stderr || err.message}`));
        resolve(out.split('\n').filter((l) => l !== '').map((l) => l.split('\t')));
      });
  });
}

// ---- processes ----

// Which optional config keys this temporald knows: a key it does not know makes config
// loading fail naming it, which `schema version --config` reports before touching a database.
const keyCache = new Map();
export function knowsKey(section, key, value = '1') {
  const k = `${section}.${key}`;
  if (keyCache.has(k)) return keyCache.get(k);
  const f = path.join(topo.dir, `probe-${section}-${key}.ini`);
  writeFileSync(f, `[${section}]\n${key} = ${value}\n[persistence]\nurl = sqlite://${path.join(topo.dir, 'probe.db')}\n`);
  let known = true;
  try {
    execFileSync(topo.bin, ['schema', 'version', '--config', f], { stdio: 'pipe' });
  } catch (err) {
    known = !/unknown (section|key)/.test(String(err.stderr));
  }
  keyCache.set(k, known);
  return known;
}

const roleNames = ['frontend', 'history', 'matching', 'worker'];
// In the loopback fallback every process shares one port space: shift every port by an
// offset of this run (namespaced hosts use Temporal's default ports, as separate machines do).
const portShift = netns ? 0 : 10000 + (process.pid % 40) * 100;
const defaultPorts = { frontend: [7233, 6933], history: [7234, 6934], matching: [7235, 6935], worker: [7239, 6939] };
const ports = Object.fromEntries(roleNames.map((r) => [r, defaultPorts[r].map((p) => p + portShift)]));

function tcpProbe(host, port, ms = 1000) {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host, port });
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error('connect timeout'));
    }, ms);
    sock.once('connect', () => {
      clearTimeout(t);
      sock.destroy();
      resolve();
    });
    sock.once('error', (err) => {
      clearTimeout(t);
      sock.destroy();
      reject(err);
    });
  });
}

const running = new Set();
process.on('exit', () => {
  for (const p of running) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {}
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(sig, () => process.exit(130));

// One temporald process on one host, hosting `services` (a comma list of roles).
export class Proc {
  constructor(cluster, name, host, services) {
    this.cluster = cluster;
    this.name = name;
    this.host = host;
    this.services = services;
    this.roles = services.split(',');
    this.logFile = path.join(logDir, `${cluster.tag}-${name}.log`);
    this.cfgFile = path.join(topo.dir, `${cluster.tag}-${name}.ini`);
    this.proc = null;
    this.exits = [];
    this.starts = 0;
  }

  get ip() {
    return this.host.ip;
  }
  addr(role) {
    return `${this.ip}:${ports[role][0]}`;
  }
  get address() {
    return this.addr(this.roles[0]);
  }

  writeConfig() {
    const c = this.cluster;
    const lines = [
      '[server]', `ip = ${this.ip}`, `services = ${this.services}`, 'log_level = info', 'log_format = text',
      'drain_timeout_ms = 5000', `cluster_name = ${c.clusterName}`,
    ];
    for (const r of roleNames) {
      lines.push(`[${r}]`, `port = ${ports[r][0]}`, `membership_port = ${ports[r][1]}`);
      if (r === 'frontend') lines.push('http_port = 0', 'metrics_port = 0');
      if (r === 'history') lines.push(`num_shards = ${c.shards}`);
    }
    lines.push('[persistence]', `url = ${c.dbUrl}`, 'max_conns = 8', '[ui]', 'enabled = false');
    // Membership keys, as far as this temporald has them: SWIM with every process of the
    // topology as a seed and a shared key; else a static member list.
    const cl = [];
    const swim = knowsKey('cluster', 'seeds', '127.0.0.1:6933');
    if (swim) {
      cl.push(`seeds = ${c.procs.flatMap((p) => p.roles.map((r) => `${p.ip}:${ports[r][1]}`)).join(',')}`);
      if (knowsKey('cluster', 'key', 'k')) cl.push(`key = ${c.clusterKey}`);
    }
    if (knowsKey('cluster', 'advertise_ip', '127.0.0.1')) cl.push(`advertise_ip = ${this.ip}`);
    if (!swim && knowsKey('cluster', 'static_members', 'history@127.0.0.1:7234:6934')) {
      // the roles others call (history, matching); the line stays under inih's 200 bytes
      const called = (r) => r === 'history' || r === 'matching';
      cl.push(`static_members = ${c.procs.flatMap((p) => p.roles.filter(called).map((r) => `${r}@${p.ip}:${ports[r][0]}:${ports[r][1]}`)).join(',')}`);
    }
    if (cl.length) lines.push('[cluster]', ...cl);
    writeFileSync(this.cfgFile, `${lines.join('\n')}\n`);
  }

  alive() {
    return this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  // Spawns the process on its host and waits until it is up, at most 30 s: a frontend until
  // GetSystemInfo answers; another role until its gRPC port accepts connections or, for a
  // temporald whose internal roles do not listen, its log says it is serving.
  async start() {
    this.writeConfig();
    this.starts++;
    appendFileSync(this.logFile, `==== start ${this.starts} of ${this.name} (${this.services}) on ${this.ip} at ${new Date().toISOString()}\n`);
    const fd = openSync(this.logFile, 'a');
    const cmd = [topo.bin, 'start', '--config', this.cfgFile];
    const [file, args] = this.host.ns ? ['ip', ['netns', 'exec', this.host.ns, ...cmd]] : [cmd[0], cmd.slice(1)];
    try {
      this.proc = spawn(file, args, { stdio: ['ignore', fd, fd], cwd: topo.dir });
    } finally {
      closeSync(fd);
    }
    const proc = this.proc;
    running.add(proc);
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      this.exits.push({ pid: proc.pid, code, signal, at: Date.now() });
    });
    const deadline = Date.now() + 30000;
    let lastErr;
    while (Date.now() < deadline) {
      if (!this.alive()) throw new Error(`${this.name} exited (${proc.exitCode ?? proc.signalCode}) during start:\n${this.logTail(20)}`);
      try {
        if (this.roles.includes('frontend')) {
          await tcpProbe(this.ip, ports.frontend[0]);
          const conn = await Connection.connect({ address: this.addr('frontend'), connectTimeout: 2000 });
          await conn.close();
          return this;
        }
        const serving = this.logSinceStart().includes('serving (start)');
        try {
          await tcpProbe(this.ip, ports[this.roles[0]][0], 500);
          return this;
        } catch (err) {
          if (serving) return this;
          throw err;
        }
      } catch (err) {
        lastErr = err;
      }
      await sleep(150);
    }
    throw new Error(`${this.name} did not listen on ${this.address} within 30 s (${lastErr?.message}):\n${this.logTail(20)}`);
  }

  #waitExit(ms) {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      p.once('exit', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  // SIGKILL: a crash, no shutdown path runs. Returns the time it was sent.
  async kill9() {
    const at = Date.now();
    if (this.alive()) {
      appendFileSync(this.logFile, `==== kill -9 of ${this.name} at ${new Date(at).toISOString()}\n`);
      process.kill(this.proc.pid, 'SIGKILL');
      await this.#waitExit(10000);
    }
    return at;
  }

  // SIGTERM (graceful drain), SIGKILL after `grace` ms. Returns the exit record.
  async stop(grace = 20000) {
    if (this.alive()) {
      process.kill(this.proc.pid, 'SIGTERM');
      if (!(await this.#waitExit(grace))) {
        note(`${this.name} ignored SIGTERM for ${grace / 1000} s: SIGKILL`);
        process.kill(this.proc.pid, 'SIGKILL');
        await this.#waitExit(10000);
      }
    }
    return this.exits.at(-1);
  }

  // The host's link (its veth on the bridge) down or up: every packet to and from the host is
  // dropped while it is down, the processes on it keep running.
  link(up) {
    if (!this.host.link) throw new Error('link faults need network namespaces');
    appendFileSync(this.logFile, `==== link ${up ? 'up' : 'down'} at ${new Date().toISOString()}\n`);
    execFileSync('ip', ['link', 'set', this.host.link, up ? 'up' : 'down']);
  }

  logSinceStart() {
    try {
      const all = readFileSync(this.logFile, 'utf8');
      return all.slice(all.lastIndexOf('==== start '));
    } catch {
      return '';
    }
  }

  logTail(lines = 30) {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  // Log lines matching re (for the record: ownership changes, membership events).
  logLines(re) {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').filter((l) => re.test(l));
    } catch {
      return [];
    }
  }
}

// The full topology of the issue: 2 frontend, 3 history, 2 matching, 1 worker processes, one
// per host (h1..h8), all on one fresh database.
export const fullLayout = [
  ['fe1', 'frontend'], ['fe2', 'frontend'], ['hi1', 'history'], ['hi2', 'history'], ['hi3', 'history'],
  ['ma1', 'matching'], ['ma2', 'matching'], ['wk1', 'worker'],
];

let clusterSeq = 0;
export class Cluster {
  constructor({ layout = fullLayout, shards = 16 } = {}) {
    this.tag = `c${process.pid}x${++clusterSeq}`;
    this.clusterName = 'tdcluster';
    this.clusterKey = randomUUID();
    this.shards = shards;
    this.procs = layout.map(([name, services], i) => new Proc(this, name, topo.hosts[i], services));
    this.dbName = `cl_${this.tag}`;
    this.dbUrl = topo.pgUrl.replace(/\/[^/]*$/, `/${this.dbName}`);
    this.conns = [];
    this.workers = new Set();
    this.namespaceId = null;
    this.routingProblem = null; // why the topology cannot serve calls (requireRouting), or null
  }

  proc(name) {
    const p = this.procs.find((x) => x.name === name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  }
  byRole(role) {
    return this.procs.filter((p) => p.roles.includes(role));
  }
  get frontends() {
    return this.byRole('frontend');
  }

  // Creates the database and its schema, then starts every process (all at once, as an
  // operator's deployment would).
  async start() {
    await sql('postgres', `CREATE DATABASE ${this.dbName} OWNER temporald`);
    execFileSync(topo.bin, ['schema', 'setup', '--db-url', this.dbUrl, '--log-level', 'warn'], { stdio: 'pipe' });
    this.startedAt = Date.now();
    await Promise.all(this.procs.map((p) => p.start()));
    return this;
  }

  // A Client through frontend i (SDK defaults: its retry interceptor retries retryable codes).
  async client(i = 0, { retries = true, namespace = 'default' } = {}) {
    const opts = { address: this.frontends[i].addr('frontend'), connectTimeout: 5000 };
    if (!retries) opts.interceptors = [];
    const connection = await Connection.connect(opts);
    this.conns.push(connection);
    return new Client({ connection, namespace });
  }

  async native(i = 0) {
    const c = await NativeConnection.connect({ address: this.frontends[i].addr('frontend') });
    this.conns.push(c);
    return c;
  }

  // A worker through frontend i running the suite's workflows and the given activities.
  async worker(i, opts) {
    const w = await Worker.create({
      connection: await this.native(i),
      namespace: 'default',
      workflowBundle: bundle(),
      identity: `${opts.taskQueue}-via-${this.frontends[i].name}-${randomUUID().slice(0, 4)}`,
      maxCachedWorkflows: 100,
      maxConcurrentWorkflowTaskExecutions: 8,
      maxConcurrentActivityTaskExecutions: 50,
      shutdownGraceTime: '1s',
      stickyQueueScheduleToStartTimeout: '3s',
      ...opts,
    });
    const p = w.run();
    const entry = { w, p };
    this.workers.add(entry);
    p.catch((err) => note(`worker ${w.options.identity} stopped: ${err?.message ?? err}`));
    return w;
  }

  async stopWorkers() {
    for (const entry of this.workers) {
      if (entry.w.getState() === 'RUNNING') entry.w.shutdown();
      await Promise.race([entry.p.catch(() => {}), sleep(15000)]);
    }
    this.workers.clear();
  }

  // The namespace id of "default" (shard placement is keyed by it).
  async nsId() {
    if (!this.namespaceId) {
      const c = await this.client(0);
      const r = await c.workflowService.describeNamespace({ namespace: 'default' });
      this.namespaceId = r.namespaceInfo.id;
    }
    return this.namespaceId;
  }

  // Throws the reason the topology cannot serve calls (an Error marked `routing`), recorded by
  // requireRouting(); a test of the full topology calls it first.
  need() {
    if (this.routingProblem) {
      const err = new Error(this.routingProblem);
      err.routing = true;
      throw err;
    }
  }

  // Waits (up to ms) until the topology serves: the probes of #probeRouting pass through
  // every frontend and every shard answers; throws the last reason when it does not. The time
  // from the start of the processes is printed.
  async requireRouting(ms = 30000) {
    const end = Date.now() + ms;
    for (;;) {
      try {
        await this.#probeRouting();
        const c = await this.client(0, { retries: false });
        const bad = await this.unservedShards(c, await this.shardIds());
        if (bad.length) throw new Error(`shards ${bad.join(',')} do not answer through ${this.frontends[0].name}`);
        figure(`topology serving every shard through both frontends ${((Date.now() - this.startedAt) / 1000).toFixed(1)} s after the processes started`);
        return;
      } catch (err) {
        // a temporald without cluster mode says so: no use waiting
        if (Date.now() > end || /does not have yet/.test(err.message)) throw err;
      }
      await sleep(500);
    }
  }

  // Fails with the reason when a frontend cannot reach the history and matching roles of the
  // other processes: describing a workflow that does not exist through each frontend must
  // answer NOT_FOUND (history reached) and a poll with a short deadline must end empty
  // (matching reached).
  async #probeRouting() {
    for (let i = 0; i < this.frontends.length; i++) {
      const c = await this.client(i, { retries: false });
      const fe = this.frontends[i].name;
      try {
        await c.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: uniq('routing-probe') } });
        throw new Error('described a workflow that does not exist');
      } catch (err) {
        if (err.code !== 5) {
          throw new Error(`frontend ${fe} cannot reach a history process: ${grpcName(err.code)}: ${err.details ?? err.message}. ` +
            'Cluster mode is missing or broken here (internal history gRPC service, td_svc_call remote branch, membership rings)');
        }
      }
      try {
        await c.connection.withDeadline(Date.now() + 3000, () =>
          c.workflowService.pollActivityTaskQueue({ namespace: 'default', taskQueue: { name: uniq('routing-probe') }, identity: 'probe' }));
      } catch (err) {
        if (err.code !== 4) {
          throw new Error(`frontend ${fe} cannot reach a matching process: ${grpcName(err.code)}: ${err.details ?? err.message}. ` +
            'Cluster mode is missing or broken here (internal matching gRPC service, td_svc_call remote branch, membership rings)');
        }
      }
    }
  }

  // For each shard 1..shards a workflow id that lands on it (FNV-1a over namespace id, a zero
  // byte and the workflow id, as history places workflows).
  async shardIds(prefix = 'shard-probe') {
    const ns = await this.nsId();
    const out = new Array(this.shards + 1).fill(null);
    let left = this.shards;
    for (let k = 0; left > 0 && k < 100000; k++) {
      const id = `${prefix}-${k}`;
      const s = shardOf(ns, id, this.shards);
      if (!out[s]) {
        out[s] = id;
        left--;
      }
    }
    return out;
  }

  // Whether every shard answers through frontend i right now: a describe of an absent workflow
  // on each shard must come back NOT_FOUND within 2 s. Returns the shards that did not.
  async unservedShards(client, ids) {
    const bad = [];
    await Promise.all(ids.map(async (id, s) => {
      if (!id) return;
      try {
        await client.connection.withDeadline(Date.now() + 2000, () =>
          client.workflowService.describeWorkflowExecution({ namespace: 'default', execution: { workflowId: id } }));
        bad.push(s);
      } catch (err) {
        if (err.code !== 5) bad.push(s);
      }
    }));
    return bad;
  }

  // range_id of every shard row.
  async shardRanges() {
    const rows = await sql(this.dbName, 'SELECT shard_id, range_id FROM shards ORDER BY shard_id');
    return new Map(rows.map(([s, r]) => [Number(s), Number(r)]));
  }

  // `temporald cluster members` through a frontend, or null when this temporald has no such
  // command or it failed (the text of the answer otherwise).
  members(i = 0) {
    try {
      return execFileSync(topo.bin, ['cluster', 'members', '--address', this.frontends[i].addr('frontend')],
        { stdio: 'pipe', timeout: 5000 }).toString();
    } catch {
      return null;
    }
  }

  logTails(lines = 15) {
    return this.procs.map((p) => `--- ${p.name} (${p.services}, ${p.ip}) ${p.alive() ? 'running' : `NOT running ${JSON.stringify(p.exits.at(-1))}`}:\n${p.logTail(lines)}`).join('\n');
  }

  async stop() {
    await this.stopWorkers();
    for (const c of this.conns) await c.close().catch(() => {});
    this.conns = [];
    await Promise.all(this.procs.map((p) => p.stop(10000)));
    const bad = this.procs.flatMap((p) => p.exits.filter((e) => e.code !== 0 && e.signal !== 'SIGKILL' && e.signal !== 'SIGTERM')
      .map((e) => `${p.name}: ${JSON.stringify(e)}`));
    await sql('postgres', `DROP DATABASE IF EXISTS ${this.dbName} WITH (FORCE)`).catch(() => {});
    // The SDK runtime (native threads) would keep the test process alive.
    await Runtime._instance?.shutdown().catch(() => {});
    return bad;
  }
}

export function shardOf(namespaceId, workflowId, shards) {
  let h = 2166136261;
  for (const b of Buffer.from(namespaceId, 'utf8')) h = Math.imul(h ^ b, 16777619) >>> 0;
  h = Math.imul(h ^ 0, 16777619) >>> 0;
  for (const b of Buffer.from(workflowId, 'utf8')) h = Math.imul(h ^ b, 16777619) >>> 0;
  return (h % shards) + 1;
}

const grpcNames = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];
export const grpcName = (code) => grpcNames[code] ?? `code ${code}`;
// Codes a client may see while a process is down or moving its keys, which the SDK retries.
export const retryableCodes = new Set([1, 4, 8, 10, 14]);

// Like node:test's test(), printing every process's log tail and the SDK's warnings on failure.
export function clusterTest(name, opts, fn, getCluster) {
  return test(name, { timeout: 180000, ...opts }, async (t) => {
    const mark = sdkLog.length;
    try {
      await fn(t);
    } catch (err) {
      if (err.routing) throw err; // the topology cannot serve calls: the reason says it all
      const c = getCluster?.();
      const lines = [`--- ${name} failed: ${err?.stack ?? err}`, '--- SDK log since the test began:', ...sdkLog.slice(mark)];
      if (c) lines.push('--- process logs:', c.logTails());
      console.error(lines.join('\n').replace(/^/gm, '# '));
      throw err;
    }
  });
}

// The result of a workflow, or an error naming what the run is still waiting for (its pending
// activities and children, from DescribeWorkflowExecution) when it is not done within ms.
export async function resultWithin(handle, ms) {
  let timer;
  const late = new Promise((_r, reject) => {
    timer = setTimeout(() => reject(new Error('late')), ms);
  });
  try {
    return await Promise.race([handle.result(), late]);
  } catch (err) {
    if (err.message !== 'late') throw err;
    const d = await handle.describe().catch(() => null);
    const raw = d?.raw;
    const kids = (raw?.pendingChildren ?? []).map((k) => k.workflowId);
    const acts = (raw?.pendingActivities ?? []).map((a) => `${a.activityType?.name}#${a.activityId} ${a.lastFailure?.message ?? ''}`);
    throw new Error(`${handle.workflowId} not done after ${ms / 1000} s (status ${d?.status?.name}; pending children: ${kids.join(' ') || 'none'}; pending activities: ${acts.join(' ') || 'none'})`);
  } finally {
    clearTimeout(timer);
  }
}

// ---- workloads and checks ----

// What the activities of the suite saw: every delivery of an activity task, keyed by workflow
// id, run id, activity id and attempt (a task delivered twice shows up as a count of 2).
export const deliveries = new Map();
export const activities = {
  async work(key, i) {
    const info = sdkActivity.Context.current().info;
    const k = `${info.workflowExecution.workflowId}/${info.workflowExecution.runId}/${info.activityId}/${info.attempt}`;
    deliveries.set(k, (deliveries.get(k) ?? 0) + 1);
    return `${key}:${i}`;
  },
};

export function duplicateDeliveries(prefix) {
  return [...deliveries].filter(([k, n]) => k.startsWith(prefix) && n > 1).map(([k, n]) => `${k} x${n}`);
}

// Starts load: `concurrency` loops starting `loadFlow` workflows through the given frontends in
// turn (ids PREFIX-N), each acknowledged start remembered with its run id, each failed call with
// its gRPC code. stop() ends the loops and returns { acked, failed, attempts }.
export async function startLoad(cluster, { prefix, frontends = [0, 1], concurrency = 4, steps = 2, pauseMs = 30, taskQueue }) {
  const clients = await Promise.all(frontends.map((i) => cluster.client(i)));
  const acked = [];
  const failed = [];
  let stopping = false;
  let n = 0;
  const loop = async (j) => {
    while (!stopping) {
      const k = n++;
      const id = `${prefix}-${k}`;
      const client = clients[k % clients.length];
      try {
        const h = await client.workflow.start('loadFlow', { taskQueue, workflowId: id, args: [id, steps] });
        acked.push({ id, runId: h.firstExecutionRunId, via: frontends[k % clients.length], at: Date.now() });
      } catch (err) {
        const code = err.code ?? err.cause?.code;
        failed.push({ id, code, message: String(err.message ?? err).slice(0, 200), at: Date.now() });
      }
      await sleep(pauseMs);
    }
  };
  const loops = Array.from({ length: concurrency }, (_x, j) => loop(j));
  return {
    acked,
    failed,
    async stop() {
      stopping = true;
      await Promise.all(loops);
      return { acked, failed, attempts: n };
    },
  };
}

const EventType = sdkProto.temporal.api.enums.v1.EventType;
export const eventName = (t) =>
  String(typeof t === 'number' ? EventType[t] : t).replace(/^EVENT_TYPE_/, '').toLowerCase().replace(/(^|_)([a-z])/g, (_m, _u, c) => c.toUpperCase());

// Checks one closed run's history: event ids 1..N without gaps, Started first, Completed last
// (once), every scheduled activity completed once. Returns a list of problems (empty = fine)
// and the result.
export function checkHistory(history, { steps } = {}) {
  const problems = [];
  const ev = history.events;
  const names = ev.map((e) => eventName(e.eventType));
  ev.forEach((e, i) => {
    if (Number(e.eventId) !== i + 1) problems.push(`event ${i} has id ${e.eventId}`);
  });
  if (names[0] !== 'WorkflowExecutionStarted') problems.push(`first event ${names[0]}`);
  if (names.at(-1) !== 'WorkflowExecutionCompleted') problems.push(`last event ${names.at(-1)}`);
  const count = (n) => names.filter((x) => x === n).length;
  if (count('WorkflowExecutionCompleted') !== 1) problems.push(`${count('WorkflowExecutionCompleted')} completions`);
  if (count('ActivityTaskScheduled') !== count('ActivityTaskCompleted')) {
    problems.push(`${count('ActivityTaskScheduled')} activities scheduled, ${count('ActivityTaskCompleted')} completed`);
  }
  if (steps !== undefined && count('ActivityTaskCompleted') !== steps) problems.push(`${count('ActivityTaskCompleted')} activities, want ${steps}`);
  const started = new Set(ev.filter((e) => eventName(e.eventType) === 'ActivityTaskStarted').map((e) => String(e.activityTaskStartedEventAttributes.scheduledEventId)));
  if (started.size !== count('ActivityTaskStarted')) problems.push('an activity started twice');
  const done = ev.find((e) => eventName(e.eventType) === 'WorkflowExecutionCompleted');
  const payload = done?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
  const result = payload ? sdkCommon.defaultPayloadConverter.fromPayload(payload) : undefined;
  return { problems, result };
}

// Event batches in history_node that overlap or leave a gap in their branch (a second writer
// of a run would leave one of these): returns up to 10 descriptions.
export async function historyNodeProblems(cluster) {
  const rows = await sql(cluster.dbName, `
    SELECT tree_id, branch_id, node_id, prev_end FROM (
      SELECT tree_id, branch_id, node_id,
             lag(node_id + event_count) OVER (PARTITION BY tree_id, branch_id ORDER BY node_id) AS prev_end,
             row_number() OVER (PARTITION BY tree_id, branch_id ORDER BY node_id) AS rn
      FROM history_node) x
    WHERE (rn = 1 AND node_id <> 1) OR (rn > 1 AND node_id <> prev_end) LIMIT 10`);
  return rows.map(([t, b, n, p]) => `tree ${t} branch ${b}: batch at ${n} after one ending at ${p || '(none)'}`);
}

// Waits (up to ms) until every acknowledged start of `acked` is closed in the executions
// table, then checks: one run per workflow id (the acknowledged one), each closed completed with
// a correct history (read through frontend `via`), no activity task delivered twice, no
// overlapping history batches. Returns { problems, open, seconds }.
export async function verifyLoad(cluster, acked, { prefix, steps = 2, ms = 120000, via = 0 } = {}) {
  const t0 = Date.now();
  const want = new Map(acked.map((a) => [a.id, a]));
  let rows = [];
  const openIds = () => [...want.keys()].filter((id) => !rows.some(([w, , st]) => w === id && st === '2'));
  await waitFor(async () => {
    rows = await sql(cluster.dbName, `SELECT workflow_id, run_id, status FROM executions WHERE workflow_id LIKE '${prefix}-%'`);
    return openIds().length === 0;
  }, ms, 500);
  const problems = [];
  const open = openIds();
  if (open.length) problems.push(`${open.length} acknowledged workflows not completed after ${ms / 1000} s: ${open.slice(0, 5).join(' ')}`);
  const client = await cluster.client(via);
  // where the first few stuck ones stand: status and the last events of their history
  for (const id of open.slice(0, 3)) {
    const h = client.workflow.getHandle(id, want.get(id).runId);
    const d = await h.describe().catch((err) => ({ error: err.message }));
    const ev = await h.fetchHistory().then((x) => x.events.map((e) => eventName(e.eventType)), (err) => [`(history: ${err.message})`]);
    problems.push(`${id}: status ${d.status?.name ?? d.error}, ${ev.length} events, last: ${ev.slice(-4).join(' ')}; ` +
      `pending activities ${(d.raw?.pendingActivities ?? []).length}, pending workflow task ${d.raw?.pendingWorkflowTask ? 'yes' : 'no'}`);
  }
  const runs = new Map();
  for (const [w, r] of rows) runs.set(w, [...(runs.get(w) ?? []), r]);
  for (const [id, a] of want) {
    const rs = runs.get(id) ?? [];
    if (rs.length > 1) problems.push(`${id}: ${rs.length} runs (started twice)`);
    if (rs.length && !rs.includes(a.runId)) problems.push(`${id}: acknowledged run ${a.runId} not in the store (${rs.join(' ')})`);
  }
  const closed = [...want.values()].filter((a) => !open.includes(a.id));
  for (let i = 0; i < closed.length; i += 16) {
    await Promise.all(closed.slice(i, i + 16).map(async (a) => {
      const h = await client.workflow.getHandle(a.id, a.runId).fetchHistory();
      const { problems: p, result } = checkHistory(h, { steps });
      const expect = `${a.id}:${steps}`;
      if (result !== expect) p.push(`result ${JSON.stringify(result)}, want ${expect}`);
      for (const x of p) problems.push(`${a.id}: ${x}`);
    }));
  }
  const dups = duplicateDeliveries(prefix);
  if (dups.length) problems.push(`activity tasks delivered twice: ${dups.slice(0, 5).join(' ')}`);
  problems.push(...(await historyNodeProblems(cluster)));
  return { problems, open, seconds: (Date.now() - t0) / 1000 };
}

// Measures, after `since`, how long until every shard answers through frontend i (printed as a
// figure by the caller). Returns seconds, or null when some shard still did not answer at ms.
export async function shardsServedAfter(cluster, since, i, ms = 60000) {
  const client = await cluster.client(i, { retries: false });
  const ids = await cluster.shardIds();
  const end = Date.now() + ms;
  let bad;
  while (Date.now() < end) {
    bad = await cluster.unservedShards(client, ids);
    if (bad.length === 0) return { seconds: (Date.now() - since) / 1000, bad: [] };
    await sleep(200);
  }
  return { seconds: null, bad };
}
