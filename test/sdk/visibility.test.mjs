// SPDX-License-Identifier: Apache-2.0
// Visibility through the TypeScript SDK on a real temporald: the target test. It starts
// TD_VIS_N (default 1000) workflows of mixed types and final statuses (completed, failed,
// terminated, cancelled, timed out, still running) on one task queue, then checks
// client.workflow.list({query}) against the expected sets (status, type, custom search attributes
// with their typed decoding, memo), client.workflow.count() with and without
// GROUP BY ExecutionStatus, raw ListWorkflowExecutions paging (every run exactly once), the
// ordering, ListOpen/ListClosedWorkflowExecutions, and an invalid query's INVALID_ARGUMENT.
// Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, sdkCommon, sdkProto, uniq, waitFor } from './harness.mjs';

const env = useTemporald({
  args: ['--search-attribute', 'CustomKeywordField=Keyword', '--search-attribute', 'CustomIntField=Int'],
});

const N = Number(process.env.TD_VIS_N ?? 1000);

// The plan: how many runs end in each status, by workflow type.
function plan(n) {
  const k = (f) => Math.max(1, Math.floor(n * f));
  return {
    completed: k(0.4), // patchedWorkflow
    failed: k(0.2), // failWorkflow
    terminated: k(0.15), // sleeper, terminated
    canceled: k(0.1), // sleeper, cancelled
    timedOut: k(0.05), // sleeper with a 1 s execution timeout
    running: 0, // the rest: sleeper, left running
  };
}

// Runs fn over items, at most `width` at a time.
async function inBatches(items, width, fn) {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

const statusName = {
  completed: 'COMPLETED',
  failed: 'FAILED',
  terminated: 'TERMINATED',
  canceled: 'CANCELLED',
  timedOut: 'TIMED_OUT',
  running: 'RUNNING',
};
const groupName = {
  completed: 'Completed',
  failed: 'Failed',
  terminated: 'Terminated',
  canceled: 'Canceled',
  timedOut: 'TimedOut',
  running: 'Running',
};

sdkTest(`visibility: ${N} workflows of mixed types and statuses: list, count, group by, paging`, { timeout: 600000 }, async () => {
  const taskQueue = uniq('vis');
  const p = plan(N);
  p.running = N - p.completed - p.failed - p.terminated - p.canceled - p.timedOut;
  assert.ok(p.running >= 1);
  const runs = []; // { workflowId, want: status key, type, i }
  let i = 0;
  for (const [want, count] of Object.entries(p)) {
    for (let c = 0; c < count; c++, i++) {
      const type = want === 'completed' ? 'patchedWorkflow' : want === 'failed' ? 'failWorkflow' : 'sleeper';
      runs.push({ workflowId: `${taskQueue}-${String(i).padStart(5, '0')}`, want, type, i });
    }
  }
  const t0 = Date.now();
  const intKey = sdkCommon.defineSearchAttributeKey('CustomIntField', sdkCommon.SearchAttributeType.INT);
  await env.withWorker({ taskQueue, maxConcurrentWorkflowTaskExecutions: 50, maxCachedWorkflows: 2000 }, async () => {
    await inBatches(runs, 50, async (r) => {
      r.handle = await env.client.workflow.start(r.type, {
        taskQueue,
        workflowId: r.workflowId,
        args: r.type === 'failWorkflow' ? [`boom ${r.i}`] : [],
        workflowExecutionTimeout: r.want === 'timedOut' ? '1s' : undefined,
        memo: { i: r.i },
        // CustomKeywordField untyped (the server types it from the namespace), CustomIntField typed
        searchAttributes: { CustomKeywordField: [r.i % 2 === 0 ? 'even' : 'odd'] },
        typedSearchAttributes: [{ key: intKey, value: r.i }],
      });
    });
    const started = Date.now();
    await inBatches(runs, 100, async (r) => {
      if (r.want === 'terminated') await r.handle.terminate('by the visibility test');
      else if (r.want === 'canceled') await r.handle.cancel();
    });
    // every run reaches its final status (seen through visibility itself)
    const want = {};
    for (const r of runs) want[groupName[r.want]] = (want[groupName[r.want]] ?? 0) + 1;
    const query = `TaskQueue = '${taskQueue}'`;
    let last;
    const ok = await waitFor(async () => {
      last = await env.client.workflow.count(`${query} GROUP BY ExecutionStatus`);
      const got = Object.fromEntries(last.groups.map((g) => [g.groupValues[0], g.count]));
      return JSON.stringify(Object.entries(got).sort()) === JSON.stringify(Object.entries(want).sort());
    }, 120000, 250);
    assert.ok(ok, `group-by counts never reached ${JSON.stringify(want)}: last ${JSON.stringify(last)}`);
    assert.equal(last.count, N);
    console.log(`# ${N} workflows started in ${started - t0} ms, all final in ${Date.now() - t0} ms`);
  });

  const query = `TaskQueue = '${taskQueue}'`;
  const byId = new Map(runs.map((r) => [r.workflowId, r]));

  // list everything: each run once, with its status, type, memo and typed search attributes
  const seen = new Map();
  for await (const w of env.client.workflow.list({ query, pageSize: 97 })) {
    assert.ok(!seen.has(w.workflowId), `listed twice: ${w.workflowId}`);
    seen.set(w.workflowId, w);
  }
  assert.equal(seen.size, N);
  for (const [id, w] of seen) {
    const r = byId.get(id);
    assert.ok(r, `unexpected workflow ${id}`);
    assert.equal(w.status.name, statusName[r.want], id);
    assert.equal(w.type, r.type);
    assert.equal(w.taskQueue, taskQueue);
    assert.equal(w.runId, r.handle.firstExecutionRunId);
    assert.deepEqual(w.memo, { i: r.i });
    assert.deepEqual(w.searchAttributes.CustomKeywordField, [r.i % 2 === 0 ? 'even' : 'odd']);
    assert.equal(w.typedSearchAttributes.get(intKey), r.i);
    if (r.want === 'running') assert.equal(w.closeTime, undefined);
    else assert.ok(w.closeTime >= w.startTime, id);
  }

  // filtered lists against the expected sets
  const ids = async (q) => {
    const out = [];
    for await (const w of env.client.workflow.list({ query: q })) out.push(w.workflowId);
    return out.sort();
  };
  const expect = (pred) => runs.filter(pred).map((r) => r.workflowId).sort();
  assert.deepEqual(await ids(`${query} AND ExecutionStatus = 'Failed'`), expect((r) => r.want === 'failed'));
  assert.deepEqual(
    await ids(`${query} AND WorkflowType = 'sleeper' AND ExecutionStatus IN ('Terminated', 'Canceled')`),
    expect((r) => r.want === 'terminated' || r.want === 'canceled'),
  );
  assert.deepEqual(
    await ids(`${query} AND CustomKeywordField = 'odd' AND CustomIntField BETWEEN 100 AND 299`),
    expect((r) => r.i % 2 === 1 && r.i >= 100 && r.i <= 299),
  );
  assert.deepEqual(
    await ids(`${query} AND NOT (ExecutionStatus = 'Running' OR CustomIntField >= 10)`),
    expect((r) => r.want !== 'running' && r.i < 10),
  );
  assert.deepEqual(await ids(`${query} AND CloseTime IS NULL`), expect((r) => r.want === 'running'));
  assert.deepEqual(await ids(`WorkflowId STARTS_WITH '${taskQueue}-0001'`), expect((r) => r.workflowId.startsWith(`${taskQueue}-0001`)));

  // count
  assert.deepEqual(await env.client.workflow.count(query), { count: N, groups: [] });
  const c = await env.client.workflow.count(`${query} AND WorkflowType = 'patchedWorkflow'`);
  assert.equal(c.count, p.completed);

  // raw paging: pages of 64 with next_page_token, every run exactly once, start time descending
  const svc = env.client.workflowService;
  let token;
  let pages = 0;
  const paged = [];
  do {
    const resp = await svc.listWorkflowExecutions({
      namespace: 'default',
      query: `${query} ORDER BY StartTime DESC`,
      pageSize: 64,
      nextPageToken: token,
    });
    assert.ok(resp.executions.length <= 64);
    pages++;
    paged.push(...resp.executions);
    token = resp.nextPageToken?.length ? resp.nextPageToken : undefined;
  } while (token);
  assert.equal(paged.length, N);
  assert.equal(new Set(paged.map((e) => e.execution.workflowId)).size, N);
  assert.equal(pages, Math.ceil(N / 64));
  const ts = (e) => BigInt(e.startTime.seconds.toString()) * 1000000000n + BigInt(e.startTime.nanos ?? 0);
  for (let k = 1; k < paged.length; k++) assert.ok(ts(paged[k - 1]) >= ts(paged[k]), 'start time descending');
  // every payload of the listed search attributes carries its type
  for (const e of paged.slice(0, 5)) {
    for (const [name, pl] of Object.entries(e.searchAttributes.indexedFields)) {
      assert.ok(pl.metadata.type, `${name} has no type metadata`);
    }
  }

  // the typed listings
  const open = await svc.listOpenWorkflowExecutions({ namespace: 'default', maximumPageSize: 1000, typeFilter: { name: 'sleeper' } });
  const openIds = open.executions.map((e) => e.execution.workflowId).filter((id) => byId.has(id));
  assert.deepEqual(openIds.sort(), expect((r) => r.want === 'running'));
  const closed = await svc.listClosedWorkflowExecutions({
    namespace: 'default',
    maximumPageSize: 1000,
    statusFilter: { status: sdkProto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TIMED_OUT },
  });
  const closedIds = closed.executions.map((e) => e.execution.workflowId).filter((id) => byId.has(id));
  assert.deepEqual(closedIds.sort(), expect((r) => r.want === 'timedOut'));

  // a bad query: INVALID_ARGUMENT naming the token and its column
  await assert.rejects(
    () => svc.countWorkflowExecutions({ namespace: 'default', query: 'WorkflowType = sleeper' }),
    (err) => err.code === 3 && /column 16 near 'sleeper'/.test(err.details ?? err.message),
  );

  // tidy up: the running sleepers
  await inBatches(runs.filter((r) => r.want === 'running'), 100, (r) => r.handle.terminate('cleanup'));
});
