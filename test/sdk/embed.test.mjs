// SPDX-License-Identifier: Apache-2.0
// How CI pipelines embed a dev server: @temporalio/testing's TestWorkflowEnvironment.createLocal
// with `executable: { type: 'existing-path' }` pointing at the built temporald. The SDK picks the
// port and launches `<exe> server start-dev --port P --namespace default --ip 127.0.0.1
// --log-format pretty --log-level warn --headless --search-attribute Name=Type ...` itself; the
// test runs a workflow carrying the custom search attribute through that server, finds it with a
// visibility query on the attribute, and checks that teardown stops the server (its port closes).
// On the postgres pass the server gets a fresh PostgreSQL database through extraArgs (--db-url).
// Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import path from 'node:path';
import { root, temporaldBin, freshDatabaseUrl, sdkTest, sdkWorker, sdkCommon, workflowBundle, uniq, waitFor } from './harness.mjs';

const jsRequire = createRequire(path.join(root, 'test', 'js', 'package.json'));
const { TestWorkflowEnvironment } = jsRequire('@temporalio/testing');
const { Worker } = sdkWorker;
const { defineSearchAttributeKey, SearchAttributeType } = sdkCommon;

// Resolves true when host:port accepts a TCP connection, false when it refuses.
function accepts(address) {
  const i = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const sock = createConnection({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

sdkTest('TestWorkflowEnvironment.createLocal on temporald: a workflow with a custom search attribute', { timeout: 120000 }, async () => {
  const key = defineSearchAttributeKey('EmbedCustomKeyword', SearchAttributeType.KEYWORD);
  const dbUrl = await freshDatabaseUrl();
  const testEnv = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporaldBin },
      searchAttributes: [key],
      ...(dbUrl ? { extraArgs: ['--db-url', dbUrl] } : {}),
    },
  });
  const address = testEnv.address;
  try {
    assert.ok(await accepts(address), `the embedded server listens on ${address}`);
    const taskQueue = uniq('embed');
    const workflowId = uniq('embed-wf');
    const value = uniq('v');
    const worker = await Worker.create({
      connection: testEnv.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: { greet: async (name) => `hello ${name}` },
      shutdownGraceTime: '1s',
    });
    const handle = await worker.runUntil(async () => {
      const h = await testEnv.client.workflow.start('hello', {
        taskQueue,
        workflowId,
        args: ['ci'],
        typedSearchAttributes: [{ key, value }],
      });
      assert.equal(await h.result(), 'hello ci');
      return h;
    });
    const d = await handle.describe();
    assert.equal(d.typedSearchAttributes.get(key), value);
    // Visibility is written after the run closes: wait for the query to find it.
    const found = await waitFor(async () => {
      const ids = [];
      for await (const w of testEnv.client.workflow.list({ query: `EmbedCustomKeyword = '${value}'` })) {
        ids.push(w.workflowId);
      }
      return ids.length === 1 ? ids : null;
    });
    assert.deepEqual(found, [workflowId]);
  } finally {
    await testEnv.teardown();
  }
  // teardown stopped the server it started
  const closed = await waitFor(async () => !(await accepts(address)), 10000);
  assert.ok(closed, `the embedded server on ${address} is gone after teardown`);
});
