// SPDX-License-Identifier: Apache-2.0
// The single-activity benchmark driven by the real TypeScript SDK (test/js/node_modules,
// @temporalio/* 1.24): a Worker on a NativeConnection runs the workflow and its activity, and
// a Client on a Connection keeps INFLIGHT workflows in flight, each one start + result() as a
// user's code would do. Prints completed workflows/s and start / end-to-end latency over a
// measurement window after a warm-up, then checks every result and exits 1 on any wrong or
// failed one. It is a measurement, not a test; run by test/bench/workflows.sh.
//   node test/bench/sdk_single_activity.mjs PORT [INFLIGHT=50] [SECONDS=10] [WARMUP=3] [SERVER_PID]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const jsNodeModules = path.resolve(here, '..', 'js', 'node_modules');
const require = createRequire(path.resolve(here, '..', 'js', 'package.json'));
const { Connection, Client } = require('@temporalio/client');
const { Worker, NativeConnection, Runtime, DefaultLogger, bundleWorkflowCode } =
  require('@temporalio/worker');

const port = Number(process.argv[2]);
const inflight = Number(process.argv[3] ?? 50);
const seconds = Number(process.argv[4] ?? 10);
const warmup = Number(process.argv[5] ?? 3);
const serverPid = Number(process.argv[6] ?? 0);
if (!(port > 0) || !(inflight > 0) || !(seconds > 0) || !(warmup >= 0)) {
  console.error('usage: node sdk_single_activity.mjs PORT [INFLIGHT] [SECONDS] [WARMUP]');
  process.exit(2);
}

Runtime.install({ logger: new DefaultLogger('WARN') });
const address = `127.0.0.1:${port}`;
const taskQueue = `sdk-bench-${process.pid}-${Date.now()}`;

const { code } = await bundleWorkflowCode({
  workflowsPath: path.join(here, 'sdk_single_activity.workflows.js'),
  logger: new DefaultLogger('WARN'),
  webpackConfigHook: (config) => {
    config.resolve.modules = [...(config.resolve.modules ?? []), jsNodeModules];
    config.resolveLoader = { ...(config.resolveLoader ?? {}), modules: [jsNodeModules, 'node_modules'] };
    return config;
  },
});

const native = await NativeConnection.connect({ address });
const worker = await Worker.create({
  connection: native,
  namespace: 'default',
  taskQueue,
  workflowBundle: { code },
  activities: { benchActivity: async (x) => `ok ${x}` },
});
const connection = await Connection.connect({ address });
const client = new Client({ connection, namespace: 'default' });

const pct = (a, p) => (a.length ? a[Math.min(a.length - 1, Math.max(0, Math.ceil((p / 100) * a.length) - 1))] : NaN);
const startLat = [];
const e2eLat = [];
let seq = 0;
let inWindow = 0;
let wrong = 0;
let firstError = null;
const t0 = performance.now();
const tMeasure = t0 + warmup * 1000;
const tEnd = tMeasure + seconds * 1000;

async function loop() {
  while (performance.now() < tEnd && firstError === null) {
    const n = ++seq;
    const ts = performance.now();
    try {
      const h = await client.workflow.start('benchSingleActivity', {
        taskQueue,
        workflowId: `${taskQueue}-${n}`,
        args: [n],
      });
      const tStarted = performance.now();
      const res = await h.result();
      const tDone = performance.now();
      if (res !== `ok ${n}`) {
        wrong++;
      }
      if (ts >= tMeasure && ts < tEnd) {
        startLat.push(tStarted - ts);
      }
      if (tDone >= tMeasure && tDone < tEnd) {
        inWindow++;
        e2eLat.push(tDone - ts);
      }
    } catch (err) {
      firstError ??= err;
    }
  }
}

// utime + stime of the server in seconds, from /proc/PID/stat (fields after the ')' name)
const serverCpu = () => {
  if (!(serverPid > 0)) return NaN;
  const f = readFileSync(`/proc/${serverPid}/stat`, 'utf8');
  const v = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(v[11]) + Number(v[12])) / 100; // USER_HZ is 100 on Linux
};
let cpu0;
let srv0 = NaN;
let srv1 = NaN;
const timer = setTimeout(() => {
  cpu0 = process.cpuUsage();
  srv0 = serverCpu();
}, Math.max(0, tMeasure - performance.now()));
const timerEnd = setTimeout(() => (srv1 = serverCpu()), Math.max(0, tEnd - performance.now()));
await worker.runUntil(Promise.all(Array.from({ length: inflight }, loop)));
clearTimeout(timer);
clearTimeout(timerEnd);
const cpu = process.cpuUsage(cpu0);
await connection.close();
await native.close();

if (firstError !== null) {
  console.error(`sdk bench: a workflow failed: ${firstError?.stack ?? firstError}`);
  process.exit(1);
}
startLat.sort((a, b) => a - b);
e2eLat.sort((a, b) => a - b);
const rate = inWindow / seconds;
console.log(`SDK single-activity (TypeScript SDK worker + client), ${inflight} in flight, ` +
  `${seconds} s window after ${warmup} s warm-up: ${seq} started, ${wrong} wrong results`);
console.log(`  completed workflows/s ${rate.toFixed(1)}`);
console.log(`  start (client.workflow.start) ms p50 ${pct(startLat, 50).toFixed(2)} p99 ${pct(startLat, 99).toFixed(2)}`);
console.log(`  end to end (start + result()) ms p50 ${pct(e2eLat, 50).toFixed(2)} p99 ${pct(e2eLat, 99).toFixed(2)}`);
console.log(`  node process CPU s in the window ${((cpu.user + cpu.system) / 1e6).toFixed(2)}`);
if (serverPid > 0) {
  console.log(`  server CPU s per 1,000 workflows ${(((srv1 - srv0) * 1000) / inWindow).toFixed(3)}`);
  console.log(`BENCH sdk_server_cpu_s_per_1000 ${(((srv1 - srv0) * 1000) / inWindow).toFixed(3)}`);
}
console.log(`BENCH sdk_wf_per_s ${rate.toFixed(1)}`);
console.log(`BENCH sdk_start_p50_ms ${pct(startLat, 50).toFixed(3)}`);
console.log(`BENCH sdk_start_p99_ms ${pct(startLat, 99).toFixed(3)}`);
console.log(`BENCH sdk_e2e_p50_ms ${pct(e2eLat, 50).toFixed(3)}`);
console.log(`BENCH sdk_e2e_p99_ms ${pct(e2eLat, 99).toFixed(3)}`);
console.log(`BENCH sdk_node_cpu_s ${((cpu.user + cpu.system) / 1e6).toFixed(2)}`);
process.exit(wrong === 0 ? 0 : 1);
