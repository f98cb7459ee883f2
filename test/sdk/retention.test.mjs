// SPDX-License-Identifier: Apache-2.0
// Retention: a closed workflow run is deleted once its namespace's retention period has passed.
// temporald runs with system.namespaceMinRetentionLocal=1s (Temporal's dynamic config key for the
// shortest retention RegisterNamespace accepts) and history.retentionTimerJitterDuration=0s, and
// each test registers its own namespace with a retention of a few seconds. Checked through the
// SDK: closed runs are listed, then, past retention, describe and history answer NotFound, List
// and Count no longer show them and the workflow id can be started again under
// REJECT_DUPLICATE; an open workflow, the open run of a continue-as-new chain and the new run of
// a reset are untouched while the closed runs before them go. The durability case kills
// temporald with SIGKILL right after the close and restarts it: the deletion still happens.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, sdkClient, uniq, eventTypes, sleep, waitFor } from './harness.mjs';

const env = useTemporald({
  args: [
    '--dynamic-config-value', 'system.namespaceMinRetentionLocal="1s"',
    '--dynamic-config-value', 'history.retentionTimerJitterDuration="0s"',
  ],
});
const { WorkflowNotFoundError } = sdkClient;
const activities = { async greet(name) { return `hello ${name}`; } };

// Registers a namespace with the given retention (seconds); returns a Client on it.
async function namespaceWithRetention(seconds) {
  const namespace = uniq('retention');
  await env.connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: { seconds, nanos: 0 },
  });
  const d = await env.connection.workflowService.describeNamespace({ namespace });
  assert.equal(Number(d.config.workflowExecutionRetentionTtl.seconds), seconds);
  return { namespace, client: new sdkClient.Client({ connection: env.connection, namespace }) };
}

// Whether describe says the run is gone (any other error is rethrown).
async function gone(handle) {
  try {
    await handle.describe();
    return false;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return true;
    throw err;
  }
}

async function assertNotFound(promise, what) {
  await assert.rejects(promise, (err) => err instanceof WorkflowNotFoundError || err?.code === 5, what);
}

async function listedIds(client, query) {
  const ids = [];
  for await (const w of client.workflow.list({ query })) ids.push(`${w.workflowId}/${w.runId}`);
  return ids.sort();
}

sdkTest('retention: below the minimum is refused, even with a lowered minimum', {}, async () => {
  await assert.rejects(
    env.connection.workflowService.registerNamespace({
      namespace: uniq('retention-short'),
      workflowExecutionRetentionPeriod: { seconds: 0, nanos: 500000000 },
    }),
    (err) => err.code === 3 && /minimum retention period is 1\.000s/.test(err.details ?? err.message),
  );
});

sdkTest('retention: closed runs are deleted past retention, open runs are kept', { timeout: 90000 }, async () => {
  const RETENTION = 6;
  const { namespace, client } = await namespaceWithRetention(RETENTION);
  const taskQueue = uniq('retention');
  const wType = `WorkflowType = 'hello' AND TaskQueue = '${taskQueue}'`;
  const w = await env.worker({ taskQueue, namespace, activities });
  await w.runUntil(async () => {
    // one run that stays open, a chain (two closed runs, one open), then three that complete
    const open = await client.workflow.start('waitDone', { taskQueue, workflowId: uniq('open') });
    const chain = await client.workflow.start('continueThenWait', { taskQueue, workflowId: uniq('chain'), args: [2] });
    const chainRuns = await waitFor(async () => {
      const runs = await listedIds(client, `WorkflowId = '${chain.workflowId}'`);
      return runs.length === 3 ? runs : null;
    }, 15000);
    assert.ok(chainRuns, 'the chain has three runs');
    const chainCurrent = (await client.workflow.getHandle(chain.workflowId).describe()).runId;
    const chainClosed = chainRuns.map((s) => s.split('/')[1]).filter((r) => r !== chainCurrent);
    assert.equal(chainClosed.length, 2);
    const closed = await Promise.all([0, 1, 2].map((i) =>
      client.workflow.start('hello', { taskQueue, workflowId: uniq('done'), args: [`n${i}`] })));
    assert.deepEqual(await Promise.all(closed.map((h) => h.result())), ['hello n0', 'hello n1', 'hello n2']);

    // listed and counted while within retention
    const want = closed.map((h) => `${h.workflowId}/${h.firstExecutionRunId}`).sort();
    assert.deepEqual(await listedIds(client, wType), want);
    assert.equal((await client.workflow.count(wType)).count, 3);
    assert.equal((await closed[0].describe()).status.name, 'COMPLETED');
    assert.ok(eventTypes(await closed[0].fetchHistory()).includes('WorkflowExecutionCompleted'));

    // not before retention: a describe answered before close time + retention finds the run
    const closeAt = (await closed[0].describe()).closeTime.getTime();
    while (Date.now() < closeAt + RETENTION * 1000 - 300) {
      const early = await gone(closed[0]);
      assert.ok(!early || Date.now() >= closeAt + RETENTION * 1000, 'deleted before its retention');
      await sleep(100);
    }

    // past retention: gone from describe, history, list and count
    const deleted = await waitFor(async () => {
      for (const h of closed) if (!(await gone(h))) return false;
      return true;
    }, RETENTION * 1000 + 15000, 200);
    assert.ok(deleted, 'every closed run is deleted within retention + 15 s');
    for (const h of closed) {
      await assertNotFound(h.fetchHistory(), 'history of a deleted run');
      await assertNotFound(client.workflow.getHandle(h.workflowId, h.firstExecutionRunId).describe(), 'by run id');
    }
    assert.ok(await waitFor(async () => (await client.workflow.count(wType)).count === 0, 5000), 'count drops to 0');
    assert.deepEqual(await listedIds(client, wType), []);

    // the chain's closed runs go, its open run stays
    for (const r of chainClosed) {
      assert.ok(await waitFor(() => gone(client.workflow.getHandle(chain.workflowId, r)), 10000), `chain run ${r} deleted`);
    }
    const cur = await client.workflow.getHandle(chain.workflowId).describe();
    assert.equal(cur.runId, chainCurrent);
    assert.equal(cur.status.name, 'RUNNING');
    assert.deepEqual(await listedIds(client, `WorkflowId = '${chain.workflowId}'`), [`${chain.workflowId}/${chainCurrent}`]);

    // the open workflow is untouched: described, its history whole, listed as running
    const od = await open.describe();
    assert.equal(od.status.name, 'RUNNING');
    assert.equal(eventTypes(await open.fetchHistory())[0], 'WorkflowExecutionStarted');
    assert.equal((await client.workflow.count(`WorkflowId = '${open.workflowId}' AND ExecutionStatus = 'Running'`)).count, 1);

    // a deleted workflow id can be started again, even where duplicates are rejected
    const again = await client.workflow.start('hello', {
      taskQueue, workflowId: closed[0].workflowId, args: ['again'], workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
    assert.notEqual(again.firstExecutionRunId, closed[0].firstExecutionRunId);
    assert.equal(await again.result(), 'hello again');

    // once the open ones close, they are deleted in turn
    await open.signal('done');
    await client.workflow.getHandle(chain.workflowId).signal('done');
    assert.equal(await open.result(), 'done');
    assert.ok(await waitFor(async () => (await gone(open)) && (await gone(again)), RETENTION * 1000 + 15000, 200),
      'the last runs are deleted too');
  });
});

sdkTest('retention: a reset run stays while the run it replaced is deleted', { timeout: 90000 }, async () => {
  const RETENTION = 3;
  const { namespace, client } = await namespaceWithRetention(RETENTION);
  const taskQueue = uniq('retention-reset');
  const workflowId = uniq('reset');
  await env.withWorker({ taskQueue, namespace, activities }, async () => {
    const base = await client.workflow.start('waitDone', { taskQueue, workflowId });
    const h = await waitFor(async () => {
      const x = await base.fetchHistory();
      return eventTypes(x).includes('WorkflowTaskCompleted') ? x : null;
    }, 10000);
    assert.ok(h, 'the first workflow task completed');
    // the running base run is terminated by the reset (it closes), the new run is open
    const resp = await env.connection.workflowService.resetWorkflowExecution({
      namespace,
      workflowExecution: { workflowId, runId: base.firstExecutionRunId },
      reason: 'retention test',
      workflowTaskFinishEventId: 4,
      requestId: uniq('reset-req'),
    });
    assert.ok(resp.runId && resp.runId !== base.firstExecutionRunId);
    const baseRun = client.workflow.getHandle(workflowId, base.firstExecutionRunId);
    assert.equal((await baseRun.describe()).status.name, 'TERMINATED');
    assert.ok(await waitFor(() => gone(baseRun), RETENTION * 1000 + 15000, 200), 'the terminated base run is deleted');
    await assertNotFound(baseRun.fetchHistory(), 'history of the base run');
    // the reset run is untouched: running, its copied history whole, and it still completes
    const cur = client.workflow.getHandle(workflowId, resp.runId);
    assert.equal((await cur.describe()).status.name, 'RUNNING');
    const types = eventTypes(await cur.fetchHistory());
    assert.deepEqual(types.slice(0, 3), ['WorkflowExecutionStarted', 'WorkflowTaskScheduled', 'WorkflowTaskStarted']);
    await cur.signal('done');
    assert.equal(await cur.result(), 'done');
  });
});

sdkTest('retention: a deletion due while temporald was killed still happens after restart', { timeout: 90000 }, async () => {
  const RETENTION = 2;
  const { namespace, client } = await namespaceWithRetention(RETENTION);
  const taskQueue = uniq('retention-kill');
  const handles = [];
  await env.withWorker({ taskQueue, namespace, activities }, async () => {
    for (let i = 0; i < 3; i++) {
      const h = await client.workflow.start('hello', { taskQueue, workflowId: uniq('kill'), args: [`k${i}`] });
      assert.equal(await h.result(), `hello k${i}`);
      handles.push(h);
    }
  });
  // killed right after the close, down past the retention, then back on the same file
  await env.server.kill();
  await sleep(RETENTION * 1000 + 500);
  await env.server.start();
  const deleted = await waitFor(async () => {
    for (const h of handles) {
      try {
        if (!(await gone(h))) return false;
      } catch {
        return false; /* still reconnecting */
      }
    }
    return true;
  }, 20000, 200);
  assert.ok(deleted, 'the runs are deleted after the restart');
  for (const h of handles) await assertNotFound(h.fetchHistory(), 'history after restart');
  // The visibility record is the last thing a deletion removes (after the execution row that
  // describe reads), so the count drops a moment after describe says NotFound.
  assert.ok(await waitFor(async () => (await client.workflow.count(`TaskQueue = '${taskQueue}'`)).count === 0, 5000),
    'count drops to 0 after the restart');
});
