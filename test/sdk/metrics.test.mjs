// SPDX-License-Identifier: Apache-2.0
// Prometheus /metrics: scraped before and after a known workload run through the SDK (gRPC) and
// the HTTP API; the counters move by the expected amounts (requests and errors per operation and
// namespace, latency counts, workflow outcomes, store requests and group commits, task-queue
// sync matches, owned shards, process figures), and an npm Prometheus text-format parser
// accepts the whole output. Run by test/sdk/run.sh.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { useTemporald, sdkTest, uniq, freePort, waitFor, root } from './harness.mjs';

const jsRequire = createRequire(path.join(root, 'test', 'js', 'package.json'));
const parsePrometheus = jsRequire('parse-prometheus-text-format');

const metricsPort = await freePort();
const httpPort = await freePort();
const env = useTemporald({ args: ['--metrics-port', String(metricsPort), '--http-port', String(httpPort)] });
const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;

async function scrape() {
  const res = await fetch(metricsUrl);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return res.text();
}

// The value of one sample: name and labels (a subset that must match), 0 when absent.
function value(text, name, labels = {}) {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = line.match(/^([a-z_]+)(?:\{(.*)\})? (\S+)$/);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) total += Number(m[3]);
  }
  return total;
}

sdkTest('metrics move by the workload and parse as Prometheus text', {}, async () => {
  const ns = { namespace: 'default' };
  const before = await scrape();
  const taskQueue = uniq('metrics');
  const ids = [uniq('m-ok'), uniq('m-ok'), uniq('m-ok')];
  const term = uniq('m-term');
  await env.withWorker({ taskQueue }, async () => {
    const handles = [];
    for (const id of ids) handles.push(await env.client.workflow.start('collect', { taskQueue, workflowId: id, args: [1] }));
    for (const h of handles) await h.signal('add', 'x');
    for (const h of handles) assert.deepEqual(await h.result(), ['x']);
    const t = await env.client.workflow.start('collect', { taskQueue, workflowId: term, args: [0] });
    await t.terminate('metrics');
  });
  // one NOT_FOUND through gRPC, one describe through the HTTP API
  await assert.rejects(env.handle(uniq('absent')).describe());
  const d = await fetch(`http://127.0.0.1:${httpPort}/api/v1/namespaces/default/workflows/${ids[0]}`);
  assert.equal(d.status, 200);

  // workflow outcomes are counted when the close reaches visibility
  const after = await waitFor(async () => {
    const t = await scrape();
    const done = value(t, 'workflow_success', ns) - value(before, 'workflow_success', ns) === 3 &&
      value(t, 'workflow_terminate', ns) - value(before, 'workflow_terminate', ns) === 1;
    return done ? t : null;
  });
  if (!after) assert.fail(`workflow counters did not move:\n${(await scrape()).split('\n').filter((l) => l.startsWith('workflow_')).join('\n')}`);
  const delta = (name, labels) => value(after, name, labels) - value(before, name, labels);
  assert.equal(delta('service_requests', { operation: 'StartWorkflowExecution', ...ns }), 4);
  assert.equal(delta('service_requests', { operation: 'SignalWorkflowExecution', ...ns }), 3);
  assert.equal(delta('service_requests', { operation: 'TerminateWorkflowExecution', ...ns }), 1);
  assert.equal(delta('service_latency_count', { operation: 'StartWorkflowExecution', ...ns }), 4);
  assert.equal(delta('service_errors_entity_not_found', { operation: 'DescribeWorkflowExecution', ...ns }), 1);
  assert.equal(delta('service_error_with_type', { operation: 'DescribeWorkflowExecution', error_type: 'NotFound' }), 1);
  // the HTTP describe and the failed gRPC describe (the SDK's describe of the terminated run
  // is not made here)
  assert.ok(delta('service_requests', { operation: 'DescribeWorkflowExecution', ...ns }) >= 2);
  assert.ok(delta('service_requests', { operation: 'PollWorkflowTaskQueue', ...ns }) >= 4);
  assert.equal(delta('workflow_success', ns), 3);
  assert.equal(delta('workflow_terminate', ns), 1);
  assert.equal(delta('workflow_failed', ns), 0);
  assert.ok(delta('persistence_requests', { operation: 'WRITE' }) >= 8, 'store writes counted');
  assert.ok(delta('persistence_latency_count', { operation: 'WRITE' }) >= 8);
  assert.ok(delta('persistence_group_commit_size_count', {}) >= 1, 'group commits counted');
  assert.ok(value(after, 'poll_success_sync', { taskqueue: taskQueue, task_type: 'Workflow' }) >= 1,
    'sync matches of the workflow task queue');
  assert.equal(value(after, 'numshards_gauge', {}), 1);
  assert.ok(value(after, 'process_resident_memory_bytes') > 1 << 20);
  assert.ok(value(after, 'process_open_fds') > 3);
  assert.ok(value(after, 'process_cpu_seconds_total') > 0);

  // the whole exposition parses, with the histogram as a histogram
  const families = parsePrometheus(after);
  const byName = new Map(families.map((f) => [f.name, f]));
  for (const n of ['service_requests', 'service_latency', 'persistence_latency', 'workflow_success', 'numshards_gauge', 'process_open_fds']) {
    assert.ok(byName.has(n), `family ${n} parsed`);
  }
  assert.equal(families.length, after.split('\n').filter((l) => l.startsWith('# TYPE ')).length, 'every family parsed');
  assert.equal(byName.get('service_latency').type, 'HISTOGRAM');
  assert.ok('+Inf' in byName.get('service_latency').metrics[0].buckets);
  const starts = byName.get('service_requests').metrics.find((m) => m.labels.operation === 'StartWorkflowExecution' && m.labels.namespace === 'default');
  assert.equal(Number(starts.value), value(after, 'service_requests', { operation: 'StartWorkflowExecution', ...ns }));
  assert.equal(byName.get('numshards_gauge').type, 'GAUGE');
  // only GET /metrics is served there
  assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404);
});
