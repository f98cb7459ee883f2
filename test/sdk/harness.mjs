// SPDX-License-Identifier: Apache-2.0
// The harness of the SDK integration suite: starts a real `temporald start-dev` on 127.0.0.1 with
// a port the kernel picked and its own database, waits until GetSystemInfo answers, stops it by
// PID (or kills it with SIGKILL and restarts it on the same database), and gives each test a
// TypeScript SDK Client and Workers (pinned @temporalio/* 1.24.0, installed in test/js). It also
// reads histories (event type names, attributes, raw pages). It is not a test itself and never
// talks to any address other than the temporald it started (and, on PostgreSQL, the cluster
// run.sh started). Only test/sdk/*.test.mjs use it.
// The backend is TD_SDK_BACKEND: "sqlite" (default; a SQLite file in the server's temp dir) or
// "postgres" (a fresh database per server, created with CREATE DATABASE in the private cluster
// whose folder is TD_SDK_PG_DIR and whose temporald URL is TD_SDK_PG_URL, both set by run.sh).
// A test that only makes sense on one backend (say, it reads the SQLite file) says so with
// `{ skip: backend !== 'sqlite' && 'why' }`; freshDatabaseUrl() gives servers a test starts by
// other means (such as @temporalio/testing) a database of their own on postgres.
// TD_SAN=1 (set by `make test-san`) says temporald is a sanitizer build: the servers run with
// ASAN_OPTIONS/UBSAN_OPTIONS from sanitizerEnv(), and a report of AddressSanitizer,
// LeakSanitizer or UBSan in a server's log fails the test during which it appeared (checked
// after each test) or the file (leaks, reported when the server exits on SIGTERM at the end).
// LeakSanitizer runs at a normal exit only, so a server killed with SIGKILL reports no leaks.
import { spawn, execFile, spawnSync } from 'node:child_process';
import { openSync, closeSync, mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { test, before, after, afterEach } from 'node:test';

export const root = path.resolve(import.meta.dirname, '..', '..');
const build = path.resolve(root, process.env.BUILD ?? 'build/release');
export const temporaldBin = process.env.TD_BIN ? path.resolve(process.env.TD_BIN) : path.join(build, 'temporald');
export const workflowsPath = path.join(import.meta.dirname, 'workflows.mjs');
export const backend = process.env.TD_SDK_BACKEND || 'sqlite';
if (backend !== 'sqlite' && backend !== 'postgres') throw new Error(`TD_SDK_BACKEND=${backend}: expected sqlite or postgres`);
if (backend === 'postgres' && !(process.env.TD_SDK_PG_DIR && process.env.TD_SDK_PG_URL)) {
  throw new Error('TD_SDK_BACKEND=postgres needs TD_SDK_PG_DIR and TD_SDK_PG_URL (test/sdk/run.sh sets them)');
}
const pgCluster = path.join(root, 'scripts', 'pg-cluster.sh');
export const sanitized = process.env.TD_SAN === '1';

// The environment of a temporald on a sanitizer build. Options already in the environment win
// (ASan's and UBSan's own rule: the last of a repeated option counts). UBSan keeps going and
// prints a stack (a build with -fno-sanitize-recover aborts anyway); ASan checks leaks at exit.
function sanitizerEnv() {
  const join = (mine, theirs) => [mine, theirs].filter(Boolean).join(':');
  return {
    ...process.env,
    ASAN_OPTIONS: join('detect_leaks=1:abort_on_error=0:print_summary=1', process.env.ASAN_OPTIONS),
    UBSAN_OPTIONS: join('halt_on_error=0:print_stacktrace=1', process.env.UBSAN_OPTIONS),
  };
}

// What marks a sanitizer report in a temporald log.
const sanitizerMarks = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/;

// The SDK lives in the one shared npm project, test/js; resolve it from there.
const jsRequire = createRequire(path.join(root, 'test', 'js', 'package.json'));
export const sdkClient = jsRequire('@temporalio/client');
export const sdkWorker = jsRequire('@temporalio/worker');
export const sdkActivity = jsRequire('@temporalio/activity');
export const sdkCommon = jsRequire('@temporalio/common');
export const sdkProto = jsRequire('@temporalio/proto');
const jsNodeModules = path.join(root, 'test', 'js', 'node_modules');

const { Connection, Client } = sdkClient;
const { NativeConnection, Worker, Runtime, bundleWorkflowCode, makeTelemetryFilterString } = sdkWorker;

// SDK log lines (core and TS worker) of this test process, kept to print when a test fails.
const sdkLog = [];
function remember(line) {
  sdkLog.push(line);
  if (sdkLog.length > 300) sdkLog.splice(0, sdkLog.length - 300);
}
Runtime.install({
  logger: new sdkWorker.DefaultLogger('WARN', (e) => remember(`${e.level} ${e.message} ${safeJson(e.meta)}`)),
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
});

function safeJson(v) {
  try {
    return v === undefined ? '' : JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? String(x) : x));
  } catch {
    return String(v);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A port free right now on 127.0.0.1, chosen by the kernel.
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Resolves when 127.0.0.1:port accepts a TCP connection, rejects when it refuses.
function tcpProbe(port) {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve();
    });
    sock.once('error', (err) => {
      sock.destroy();
      reject(err);
    });
  });
}

// SQL through psql as the cluster's superuser (scripts/pg-cluster.sh psql).
function pgSql(sql) {
  return new Promise((resolve, reject) => {
    execFile(pgCluster, ['psql', process.env.TD_SDK_PG_DIR, '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', sql], (err, _out, stderr) =>
      err ? reject(new Error(`psql ${sql}: ${stderr || err.message}`)) : resolve(),
    );
  });
}

let dbSeq = 0;
// On postgres: a new, empty database in the cluster; returns its temporald URL. On sqlite: null.
export async function freshDatabaseUrl() {
  if (backend !== 'postgres') return null;
  const name = `sdk_${process.pid}_${++dbSeq}_${randomUUID().slice(0, 8)}`;
  await pgSql(`CREATE DATABASE ${name} OWNER temporald`);
  return process.env.TD_SDK_PG_URL.replace(/\/[^/]*$/, `/${name}`);
}

function dropDatabase(url) {
  const name = url.slice(url.lastIndexOf('/') + 1);
  spawnSync(pgCluster, ['psql', process.env.TD_SDK_PG_DIR, '-d', 'postgres', '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], { stdio: 'ignore' });
}

// The temporald processes this test process runs: killed with SIGKILL when it exits, also when
// it is told to stop (node --test sends SIGTERM to its files when it is interrupted), so none
// outlives the test run.
const running = new Set();
process.on('exit', () => {
  for (const p of running) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {}
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(sig, () => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)));

// One temporald process (and its restarts) on one database: a SQLite file in its own temp dir,
// or a PostgreSQL database of its own (created at the first start, dropped by cleanup()).
export class TemporaldServer {
  // headless: false serves the Web UI (pass --ui-port in args).
  constructor({ port, dir, args = [], headless = true }) {
    this.headless = headless;
    this.port = port;
    this.address = `127.0.0.1:${port}`;
    this.dir = dir;
    this.backend = backend;
    this.dbFile = backend === 'sqlite' ? path.join(dir, 'temporald.db') : null;
    this.dbUrl = backend === 'sqlite' ? `sqlite://${this.dbFile}` : null;
    this.logFile = path.join(dir, 'temporald.log');
    this.args = args;
    this.proc = null;
    this.exits = [];
    this.sanChecked = 0; // bytes of the log already checked for sanitizer reports
  }

  // Spawns temporald and resolves once GetSystemInfo succeeds (100 ms steps, at most 10 s).
  async start() {
    this.dbUrl ??= await freshDatabaseUrl();
    const fd = openSync(this.logFile, 'a');
    const db = this.dbFile ? ['--db-filename', this.dbFile] : ['--db-url', this.dbUrl];
    const args = ['start-dev', '--ip', '127.0.0.1', '--port', String(this.port),
      ...(this.headless ? ['--headless'] : []), ...db, '--log-level', 'warn', ...this.args];
    try {
      const env = sanitized ? sanitizerEnv() : process.env;
      this.proc = spawn(temporaldBin, args, { stdio: ['ignore', fd, fd], cwd: this.dir, env });
    } finally {
      closeSync(fd);
    }
    const proc = this.proc;
    let spawnError = null;
    if (proc.pid) running.add(proc);
    proc.once('error', (err) => (spawnError = err));
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      this.exits.push({ pid: proc.pid, code, signal });
    });
    const deadline = Date.now() + 10000;
    let lastErr;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`cannot run ${temporaldBin}: ${spawnError.message}`);
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`temporald exited (${proc.exitCode ?? proc.signalCode}) during start:\n${this.logTail()}`);
      }
      try {
        // A plain TCP connect first: grpc-js backs off about a second after a refused
        // connection, so asking it before the port is open would slow every start.
        await tcpProbe(this.port);
        const c = await Connection.connect({ address: this.address, connectTimeout: 2000 });
        await c.close();
        return this;
      } catch (err) {
        lastErr = err;
      }
      await sleep(100);
    }
    await this.kill();
    throw new Error(`temporald did not answer GetSystemInfo within 10 s (${lastErr?.message}):\n${this.logTail()}`);
  }

  alive() {
    return this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
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

  // SIGKILL, as a crash would: no shutdown path runs.
  async kill() {
    if (!this.alive()) return;
    process.kill(this.proc.pid, 'SIGKILL');
    await this.#waitExit(10000);
  }

  // SIGTERM, then SIGKILL after 5 s (30 s on a sanitizer build, whose exit includes the leak
  // check). Returns the exit record of the process.
  async stop() {
    if (this.alive()) {
      const grace = sanitized ? 30000 : 5000;
      process.kill(this.proc.pid, 'SIGTERM');
      if (!(await this.#waitExit(grace))) {
        remember(`temporald pid ${this.proc.pid} ignored SIGTERM for ${grace / 1000} s: SIGKILL`);
        await this.kill();
      }
    }
    return this.exits[this.exits.length - 1];
  }

  async restart() {
    await this.kill();
    return this.start();
  }

  logTail(lines = 60) {
    try {
      const all = readFileSync(this.logFile, 'utf8').split('\n');
      return all.slice(-lines).join('\n');
    } catch {
      return '(no temporald log)';
    }
  }

  // On a sanitizer build: the sanitizer reports written to the log since the last call (the
  // lines from the first report on, at most 80), or null. Always null on other builds.
  sanitizerReport() {
    if (!sanitized) return null;
    let text;
    try {
      const buf = readFileSync(this.logFile);
      text = buf.subarray(this.sanChecked).toString('utf8');
      this.sanChecked = buf.length;
    } catch {
      return null;
    }
    const lines = text.split('\n');
    const first = lines.findIndex((l) => sanitizerMarks.test(l));
    if (first < 0) return null;
    const count = lines.filter((l) => sanitizerMarks.test(l)).length;
    return `${count} sanitizer report line(s) in ${this.logFile}:\n${lines.slice(first, first + 80).join('\n')}`;
  }

  // Removes the server's folder (and its database on postgres). On a sanitizer build, throws
  // (after removing) when the log holds a sanitizer report not seen before.
  cleanup() {
    const report = this.sanitizerReport();
    rmSync(this.dir, { recursive: true, force: true });
    if (this.backend === 'postgres' && this.dbUrl) dropDatabase(this.dbUrl);
    if (report) throw new Error(`temporald reported a sanitizer finding:\n${report}`);
  }
}

export async function startServer(opts = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'td-sdk-'));
  const s = new TemporaldServer({ port: await freePort(), dir, ...opts });
  try {
    await s.start();
  } catch (err) {
    try {
      s.cleanup();
    } catch (sanErr) {
      err.message += `\n${sanErr.message}`;
    }
    throw err;
  }
  return s;
}

// The workflow bundle: prebuilt by run.sh (TD_SDK_BUNDLE) or built once per process.
let bundlePromise = null;
export function workflowBundle() {
  if (process.env.TD_SDK_BUNDLE && existsSync(process.env.TD_SDK_BUNDLE)) {
    return Promise.resolve({ code: readFileSync(process.env.TD_SDK_BUNDLE, 'utf8') });
  }
  bundlePromise ??= buildBundle();
  return bundlePromise;
}

export function buildBundle() {
  return bundleWorkflowCode({
    workflowsPath,
    logger: new sdkWorker.DefaultLogger('WARN'),
    webpackConfigHook: (config) => {
      config.resolve.modules = [...(config.resolve.modules ?? []), jsNodeModules];
      config.resolveLoader = { ...(config.resolveLoader ?? {}), modules: [jsNodeModules, 'node_modules'] };
      return config;
    },
  });
}

let seq = 0;
let currentEnv = null;
export const uniq = (prefix) => `${prefix}-${process.pid}-${++seq}-${randomUUID().slice(0, 8)}`;

// Registers before/after hooks for one server, one Client and one NativeConnection per test file.
export function useTemporald(serverOpts = {}) {
  const env = {
    server: null,
    connection: null,
    client: null,
    native: null,
    workers: 0,
    active: new Set(),
    async worker(opts) {
      const w = await Worker.create({
        connection: env.native,
        namespace: 'default',
        workflowBundle: await workflowBundle(),
        identity: `${opts.taskQueue}-worker-${++env.workers}`,
        maxCachedWorkflows: 50,
        maxConcurrentWorkflowTaskExecutions: 4,
        maxConcurrentActivityTaskExecutions: 50,
        maxConcurrentLocalActivityExecutions: 10,
        shutdownGraceTime: '1s',
        stickyQueueScheduleToStartTimeout: '2s',
        ...opts,
      });
      // Remember it until it stops, so a test that times out cannot leave it polling.
      const run = w.run.bind(w);
      w.run = () => {
        const p = run();
        env.active.add({ w, p });
        return p;
      };
      return w;
    },
    // Runs fn() while a worker polls taskQueue; the worker is shut down when fn settles.
    async withWorker(opts, fn) {
      const w = await env.worker(opts);
      return w.runUntil(fn(w));
    },
    handle(id, runId) {
      return env.client.workflow.getHandle(id, runId);
    },
  };
  currentEnv = env;
  before(async () => {
    env.server = await startServer(serverOpts);
    env.connection = await Connection.connect({ address: env.server.address });
    env.client = new Client({ connection: env.connection, namespace: 'default' });
    env.native = await NativeConnection.connect({ address: env.server.address });
  });
  afterEach(async () => {
    await stopWorkers(env);
    // On a sanitizer build, a report that appeared during the test fails it.
    const san = env.server?.sanitizerReport();
    // Tests that kill temporald restart it; a temporald that is gone now crashed.
    if (env.server && !env.server.alive()) {
      const exit = env.server.exits.at(-1);
      const tail = san ?? `Log tail:\n${env.server.logTail()}`;
      await env.server.start();
      throw new Error(`temporald died during the test (exit ${safeJson(exit)}); restarted. ${tail}`);
    }
    if (san) throw new Error(`temporald reported a sanitizer finding during the test:\n${san}`);
  });
  after(async () => {
    await stopWorkers(env);
    await env.native?.close().catch(() => {});
    await env.connection?.close().catch(() => {});
    if (env.server) {
      const exit = await env.server.stop();
      if (exit && exit.code !== 0 && exit.signal !== 'SIGTERM') {
        console.error(`# temporald exited with ${exit.code ?? exit.signal} at stop:\n${env.server.logTail()}`);
      }
    }
    // The SDK runtime (native threads, log forwarding) would keep this test process alive.
    await Runtime._instance?.shutdown().catch(() => {});
    // Last: it throws on a sanitizer report (leaks are reported at the exit above).
    env.server?.cleanup();
  });
  return env;
}

// Shuts down the workers a test left running (it failed or timed out before they stopped).
async function stopWorkers(env) {
  for (const entry of env.active) {
    const { w, p } = entry;
    if (w.getState() === 'RUNNING') {
      remember(`shutting down a worker left running on ${w.options?.taskQueue}`);
      w.shutdown();
    }
    // An unref'd timer: once the worker is done, a pending 10 s timer must not keep the test
    // process (and node --test, which waits for it) alive.
    await Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 10000).unref())]);
    env.active.delete(entry);
  }
}

// Like node:test's test(), but prints the temporald log tail and the SDK's warnings on failure.
export function sdkTest(name, opts, fn) {
  return test(name, { timeout: 60000, ...opts }, async (t) => {
    const mark = sdkLog.length;
    try {
      await fn(t);
    } catch (err) {
      const lines = [`--- ${name} failed${opts.todo ? ' (todo)' : ''}: ${err?.stack ?? err}`];
      if (err?.cause) lines.push(`cause: ${err.cause?.stack ?? err.cause}`);
      if (!opts.todo) {
        lines.push('--- SDK log since the test began:', ...sdkLog.slice(mark));
        if (currentEnv?.server) {
          if (!currentEnv.server.alive()) lines.push(`--- temporald is NOT running: ${safeJson(currentEnv.server.exits.at(-1))}`);
          lines.push('--- temporald log tail:', currentEnv.server.logTail(40));
        }
      }
      console.error(lines.join('\n').replace(/^/gm, '# '));
      throw err;
    }
  });
}

const EventType = sdkProto.temporal.api.enums.v1.EventType;
const pascal = (s) => s.toLowerCase().replace(/(^|_)([a-z])/g, (_m, _u, c) => c.toUpperCase());

// 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED' (or its number) -> 'WorkflowExecutionStarted'.
export function eventTypeName(t) {
  const s = typeof t === 'number' ? EventType[t] : String(t);
  return pascal(String(s).replace(/^EVENT_TYPE_/, ''));
}

export function eventTypes(history) {
  return history.events.map((e) => eventTypeName(e.eventType));
}

export function eventsOf(history, type) {
  return history.events.filter((e) => eventTypeName(e.eventType) === type);
}

// The non-empty *EventAttributes object of an event.
export function attrs(ev) {
  for (const [k, v] of Object.entries(ev)) if (k.endsWith('EventAttributes') && v) return v;
  return undefined;
}

export const num = (v) => (v == null ? v : typeof v === 'number' ? v : Number(v.toString()));

// Decodes the first JSON payload of a Payloads message (what the default converter writes).
export function payloadValue(payloads) {
  const p = payloads?.payloads?.[0];
  if (!p) return undefined;
  return sdkCommon.defaultPayloadConverter.fromPayload(p);
}

// Polls fn until it returns a truthy value or ms pass; returns the last value.
export async function waitFor(fn, ms = 10000, step = 50) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v || Date.now() > end) return v;
    await sleep(step);
  }
}

// A worker in its own process (worker-proc.mjs: sticky schedule-to-start timeout 2 s), for
// tests that kill a worker abruptly. Resolves with { proc, lines, err } once it polls; its
// stdout lines are collected in `lines`. Killed at exit if still running.
const workerProcs = new Set();
export function startWorkerProc(address, taskQueue, identity) {
  const proc = spawn(process.execPath, [path.join(import.meta.dirname, 'worker-proc.mjs'), address, taskQueue, identity], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: process.env,
  });
  workerProcs.add(proc);
  const w = { proc, lines: [], err: '' };
  proc.stderr.on('data', (d) => (w.err += d));
  let buf = '';
  proc.stdout.on('data', (d) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop();
    w.lines.push(...parts);
  });
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (w.lines.includes('ready')) {
        clearInterval(t);
        resolve(w);
      } else if (proc.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`worker process exited ${proc.exitCode}: ${w.err}`));
      }
    }, 50);
  });
}

// SIGKILL for a worker of startWorkerProc (no ShutdownWorker, no final answers).
export function killWorkerProc(w) {
  return new Promise((resolve) => {
    if (w.proc.exitCode !== null || w.proc.signalCode !== null) return resolve();
    w.proc.once('exit', () => resolve());
    process.kill(w.proc.pid, 'SIGKILL');
  });
}

process.on('exit', () => {
  for (const p of workerProcs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});
