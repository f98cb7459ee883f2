// SPDX-License-Identifier: Apache-2.0
// The frontend's public API over the wire: `temporald start-dev` on a free port, driven by the
// official TypeScript client (@temporalio/client, pinned in test/js). Checks what SDKs see:
// the start-dev banner, namespaces (describe, list, register, update), NamespaceNotFoundFailure
// as the client's NamespaceNotFoundError, validation messages, long-poll deadline rules,
// search attributes, cluster info and the UNIMPLEMENTED answer of methods not served yet.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client, Connection, NamespaceNotFoundError } from '@temporalio/client';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const bin = process.env.TD_BIN
  ? path.resolve(process.env.TD_BIN)
  : path.join(root, process.env.BUILD ?? 'build/release', 'temporald');

let server; // { proc, port }
let conn;

// Starts start-dev on port 0 and resolves once its banner names the port.
function startDev(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['start-dev', '--port', '0', '--headless', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no banner: ${out} ${err}`)), 10000);
    proc.stderr.on('data', (d) => (err += d));
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/^temporald server: 127\.0\.0\.1:(\d+)$/m);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]), out: () => out });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`temporald exited ${code}: ${err}`));
    });
  });
}

async function rejects(p) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected a failure');
}

before(async () => {
  server = await startDev(['-n', 'extra-ns', '--search-attribute', 'CustomKeywordField=Keyword']);
  conn = await Connection.connect({ address: `127.0.0.1:${server.port}` });
});

after(async () => {
  await conn?.close();
  if (server && server.proc.exitCode === null) {
    const exited = new Promise((res) => server.proc.once('exit', res));
    server.proc.kill('SIGKILL');
    await exited;
  }
});

test('start-dev prints one banner line naming the frontend address', () => {
  const lines = server.out().split('\n').filter((l) => l.startsWith('temporald server:'));
  assert.deepEqual(lines, [`temporald server: 127.0.0.1:${server.port}`]);
});

test('DescribeNamespace: 36-char id, capabilities, limits, 24 h retention', async () => {
  const d = await conn.workflowService.describeNamespace({ namespace: 'default' });
  assert.equal(d.namespaceInfo.name, 'default');
  assert.match(d.namespaceInfo.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal(d.namespaceInfo.capabilities.syncUpdate, true);
  assert.equal(d.namespaceInfo.capabilities.asyncUpdate, true);
  assert.ok(!d.namespaceInfo.capabilities.workerHeartbeats);
  assert.ok(!d.namespaceInfo.capabilities.workflowTaskCompletionPagination);
  assert.equal(Number(d.namespaceInfo.limits.blobSizeLimitError), 2 * 1024 * 1024);
  assert.equal(Number(d.config.workflowExecutionRetentionTtl.seconds), 24 * 3600);
  const byId = await conn.workflowService.describeNamespace({ id: d.namespaceInfo.id });
  assert.equal(byId.namespaceInfo.name, 'default');
});

test('an unknown namespace is NOT_FOUND with NamespaceNotFoundFailure', async () => {
  const e = await rejects(conn.workflowService.describeNamespace({ namespace: 'no-such-ns' }));
  assert.equal(e.code, 5);
  assert.equal(e.details, 'Namespace no-such-ns is not found.');
  const client = new Client({ connection: conn, namespace: 'no-such-ns' });
  const e2 = await rejects(client.workflow.start('wf', { taskQueue: 'tq', workflowId: 'w1' }));
  assert.ok(e2 instanceof NamespaceNotFoundError, `${e2}`);
});

test('ListNamespaces, RegisterNamespace (ALREADY_EXISTS on repeat), UpdateNamespace', async () => {
  const l = await conn.workflowService.listNamespaces({});
  const names = l.namespaces.map((n) => n.namespaceInfo.name);
  assert.ok(names.includes('default') && names.includes('extra-ns'), names.join(','));
  await conn.workflowService.registerNamespace({
    namespace: 'reg-ns',
    workflowExecutionRetentionPeriod: { seconds: 2 * 86400 },
  });
  const e = await rejects(
    conn.workflowService.registerNamespace({
      namespace: 'reg-ns',
      workflowExecutionRetentionPeriod: { seconds: 2 * 86400 },
    }),
  );
  assert.equal(e.code, 6);
  const u = await conn.workflowService.updateNamespace({
    namespace: 'reg-ns',
    config: { workflowExecutionRetentionTtl: { seconds: 4 * 86400 } },
  });
  assert.equal(Number(u.config.workflowExecutionRetentionTtl.seconds), 4 * 86400);
  const d = await conn.workflowService.describeNamespace({ namespace: 'reg-ns' });
  assert.equal(Number(d.config.workflowExecutionRetentionTtl.seconds), 4 * 86400);
});

test('validation messages name the field', async () => {
  const e = await rejects(
    conn.workflowService.startWorkflowExecution({
      namespace: 'default',
      workflowType: { name: 'wf' },
      taskQueue: { name: 'tq' },
    }),
  );
  assert.equal(e.code, 3);
  assert.equal(e.details, 'WorkflowId is not set on request.');
  const e2 = await rejects(
    conn.workflowService.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: 'tq' } }),
  );
  assert.equal(e2.code, 3);
  assert.equal(e2.details, 'Context timeout is not set.');
});

test('search attributes: boot-time, add (idempotent), list, reserved names refused', async () => {
  const os = conn.operatorService;
  let l = await os.listSearchAttributes({ namespace: 'default' });
  assert.equal(l.customAttributes.CustomKeywordField, 2);
  assert.equal(l.systemAttributes.WorkflowId, 2);
  await os.addSearchAttributes({ namespace: 'default', searchAttributes: { CustomIntField: 3 } });
  await os.addSearchAttributes({ namespace: 'default', searchAttributes: { CustomIntField: 3 } });
  l = await os.listSearchAttributes({ namespace: 'default' });
  assert.equal(l.customAttributes.CustomIntField, 3);
  const e = await rejects(os.addSearchAttributes({ namespace: 'default', searchAttributes: { RunId: 2 } }));
  assert.equal(e.code, 3);
  assert.equal(e.details, 'Search attribute RunId is reserved by system.');
  const g = await conn.workflowService.getSearchAttributes({});
  assert.equal(g.keys.CustomIntField, 3);
});

test('GetClusterInfo and UNIMPLEMENTED for methods not served yet', async () => {
  const c = await conn.workflowService.getClusterInfo({});
  assert.equal(c.clusterName, 'active');
  assert.equal(c.persistenceStore, 'sqlite');
  const e = await rejects(conn.workflowService.listSchedules({ namespace: 'default' }));
  assert.equal(e.code, 12);
  assert.match(e.details, /ListSchedules is not implemented by temporald yet/);
  const e2 = await rejects(conn.operatorService.deleteNamespace({ namespace: 'reg-ns' }));
  assert.equal(e2.code, 12);
  assert.match(e2.details, /DeleteNamespace is not implemented by temporald yet/);
});
