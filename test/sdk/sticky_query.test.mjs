// SPDX-License-Identifier: Apache-2.0
// Queries and workflow tasks after the worker holding a workflow on its sticky queue is gone,
// against a real temporald: as Temporal, the query falls back to the workflow's normal task
// queue at once when the sticky queue has no poller (the worker shut down) and otherwise after
// the sticky schedule-to-start timeout (the worker was killed and never said goodbye), and a
// new worker on the normal queue answers it with the whole history; with no worker at all
// the query ends at the caller's deadline with DEADLINE_EXCEEDED. Run by test/sdk/run.sh with
// `node --test`.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, uniq, eventsOf, attrs, waitFor, startWorkerProc, killWorkerProc } from './harness.mjs';

const env = useTemporald();
const DEADLINE_EXCEEDED = 4;

function grpcCode(err) {
  return err?.code ?? err?.cause?.code;
}

// Starts `collect` on worker A (in this process), feeds it one signal and waits until A
// answered a query from its cache; then A shuts down (ShutdownWorker: its sticky queue is gone).
async function collectOnStoppedWorker(taskQueue, workflowId) {
  let handle;
  await env.withWorker({ taskQueue, identity: 'worker-A' }, async () => {
    handle = await env.client.workflow.start('collect', { taskQueue, workflowId, args: [0] });
    await handle.signal('add', 1);
    assert.ok(await waitFor(async () => (await handle.query('state')).values.length === 1, 20000), 'worker A answered');
  });
  // Worker A completed the workflow task with its sticky queue: the run stays sticky to it.
  return handle;
}

sdkTest('a query after the sticky worker stopped is answered on the normal queue', { timeout: 90000 }, async () => {
  const taskQueue = uniq('stq');
  const workflowId = uniq('stq-wf');
  const handle = await collectOnStoppedWorker(taskQueue, workflowId);
  await env.withWorker({ taskQueue, identity: 'worker-B' }, async () => {
    assert.deepEqual(await handle.query('state'), { values: [1], done: false });
    // Workflow tasks follow: a signal, then the result, all on worker B.
    await handle.signal('add', 2);
    await handle.signal('done');
    assert.deepEqual(await handle.result(), [1, 2]);
  });
  const h = await handle.fetchHistory();
  assert.equal(eventsOf(h, 'WorkflowTaskCompleted').map((e) => attrs(e).identity).at(-1), 'worker-B');
});

sdkTest('a query with no worker at all ends at the caller’s deadline with DEADLINE_EXCEEDED', { timeout: 90000 }, async () => {
  const taskQueue = uniq('stq-none');
  const workflowId = uniq('stq-none-wf');
  const handle = await collectOnStoppedWorker(taskQueue, workflowId);
  const err = await env.connection.withDeadline(Date.now() + 5000, () => handle.query('state')).then(
    () => null,
    (e) => e,
  );
  assert.ok(err, 'the query failed');
  assert.equal(grpcCode(err), DEADLINE_EXCEEDED, `DEADLINE_EXCEEDED, not: ${err}`);
  // A worker that comes later answers the next query.
  await env.withWorker({ taskQueue, identity: 'worker-C' }, async () => {
    assert.deepEqual(await handle.query('state'), { values: [1], done: false });
  });
  await handle.terminate('test over');
});

sdkTest('a query after the sticky worker was killed waits out the sticky timeout, then a new worker answers', { timeout: 90000 }, async () => {
  const taskQueue = uniq('stq-kill');
  const workflowId = uniq('stq-kill-wf');
  const a = await startWorkerProc(env.server.address, taskQueue, 'proc-A');
  let handle;
  try {
    handle = await env.client.workflow.start('waitDone', { taskQueue, workflowId });
    assert.deepEqual(await handle.query('state'), { done: false });
  } finally {
    await killWorkerProc(a);
  }
  // The sticky queue saw a poll moments ago: the query waits there for the sticky
  // schedule-to-start timeout (2 s), then goes to the normal queue, where worker B polls.
  await env.withWorker({ taskQueue, identity: 'worker-B' }, async () => {
    const r = await env.connection.withDeadline(Date.now() + 30000, () => handle.query('state'));
    assert.deepEqual(r, { done: false });
    await handle.signal('done');
    assert.equal(await handle.result(), 'done');
  });
});
