// SPDX-License-Identifier: Apache-2.0
// Visibility of schema 2 through the TypeScript SDK: the lineage system attributes
// (ParentWorkflowId, ParentRunId, RootWorkflowId, RootRunId) of a tree of child workflows and
// the parent/root executions of listed runs, HistorySizeBytes and HistoryLength as history
// tracks them (against DescribeWorkflowExecution) with ORDER BY on them, a Text attribute
// matched word by word (=, !=, no ORDER BY), ORDER BY a custom attribute with paging,
// TemporalChangeVersion upserted by the SDK's patched(), and BuildIds as the SDK's unversioned
// worker leaves it. Run by test/sdk/run.sh with `node --test`.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, sdkCommon, uniq, waitFor, attrs, eventsOf } from './harness.mjs';

const env = useTemporald({
  args: ['--search-attribute', 'CustomTextField=Text', '--search-attribute', 'CustomIntField=Int'],
});

const activities = { async greet(name) { return `hello ${name}`; } };

// Lists the workflow ids of a query, in the server's order, following every page.
async function ids(query, pageSize = 100) {
  const out = [];
  for await (const w of env.client.workflow.list({ query, pageSize })) out.push(w.workflowId);
  return out;
}

// Waits until `query` counts n.
async function settled(query, n) {
  let last;
  const ok = await waitFor(async () => (last = (await env.client.workflow.count(query)).count) === n, 30000, 100);
  assert.ok(ok, `${query}: count ${last}, wanted ${n}`);
}

sdkTest('visibility: parent, child and root of a tree of children; patched() and BuildIds', {}, async () => {
  const taskQueue = uniq('vis2-tree');
  const top = `${taskQueue}-top`;
  const buildId = `${taskQueue}-build`;
  await env.withWorker({ taskQueue, activities, buildId }, async () => {
    assert.equal(await env.client.workflow.execute('tree', { taskQueue, workflowId: top, args: [2, true] }), 2);
  });
  const q = `TaskQueue = '${taskQueue}'`;
  await settled(`${q} AND ExecutionStatus = 'Completed'`, 3);
  const runOf = {};
  for await (const w of env.client.workflow.list({ query: q })) runOf[w.workflowId] = w;
  const [c1, c2] = [`${top}-c`, `${top}-c-c`];
  assert.deepEqual(Object.keys(runOf).sort(), [top, c1, c2].sort());

  // listed executions carry their parent and root
  const raw = await env.client.workflowService.listWorkflowExecutions({ namespace: 'default', query: q });
  const info = Object.fromEntries(raw.executions.map((e) => [e.execution.workflowId, e]));
  assert.equal(info[top].parentExecution, null);
  assert.equal(info[top].rootExecution.workflowId, top);
  assert.equal(info[top].rootExecution.runId, runOf[top].runId);
  assert.equal(info[c1].parentExecution.workflowId, top);
  assert.equal(info[c1].parentExecution.runId, runOf[top].runId);
  assert.equal(info[c2].parentExecution.workflowId, c1);
  assert.equal(info[c2].parentExecution.runId, runOf[c1].runId);
  assert.ok(info[c2].parentNamespaceId.length > 0);
  for (const id of [c1, c2]) {
    assert.equal(info[id].rootExecution.workflowId, top, id);
    assert.equal(info[id].rootExecution.runId, runOf[top].runId, id);
  }
  // and the same through the SDK's decoded listing
  assert.equal(runOf[c2].parentExecution.workflowId, c1);

  // the query language
  assert.deepEqual(await ids(`ParentWorkflowId = '${top}'`), [c1]);
  assert.deepEqual(await ids(`ParentRunId = '${runOf[c1].runId}'`), [c2]);
  assert.deepEqual((await ids(`RootWorkflowId = '${top}'`)).sort(), [top, c1, c2].sort());
  assert.deepEqual((await ids(`RootRunId = '${runOf[top].runId}' AND ParentWorkflowId IS NOT NULL`)).sort(), [c1, c2].sort());
  assert.deepEqual(await ids(`${q} AND ParentWorkflowId IS NULL`), [top]);
  assert.deepEqual(await ids(`${q} AND ParentWorkflowId != '${top}'`), [c2]);
  assert.equal((await env.client.workflow.count(`RootWorkflowId = '${top}' AND WorkflowId != '${top}'`)).count, 2);

  // TemporalChangeVersion: upserted by the SDK for patched('tree-patch') at every level
  assert.deepEqual((await ids(`${q} AND TemporalChangeVersion = 'tree-patch'`)).sort(), [top, c1, c2].sort());
  assert.deepEqual(await ids(`${q} AND TemporalChangeVersion = 'other-patch'`), []);
  const hist = await env.client.workflow.getHandle(top).fetchHistory();
  const ups = eventsOf(hist, 'UpsertWorkflowSearchAttributes');
  assert.ok(ups.length >= 1, 'the SDK upserted TemporalChangeVersion');
  assert.ok('TemporalChangeVersion' in attrs(ups[0]).searchAttributes.indexedFields);
  const desc = await env.client.workflow.getHandle(top).describe();
  assert.deepEqual(desc.searchAttributes.TemporalChangeVersion, ['tree-patch']);

  // BuildIds: the worker reports its build without versioning -> unversioned:<build id>
  const completed = eventsOf(hist, 'WorkflowTaskCompleted');
  assert.equal(attrs(completed[0]).workerVersion?.buildId, buildId, 'the worker stamps its build id');
  assert.deepEqual(desc.searchAttributes.BuildIds, ['unversioned', `unversioned:${buildId}`]);
  assert.deepEqual((await ids(`BuildIds = 'unversioned:${buildId}'`)).sort(), [top, c1, c2].sort());
  assert.deepEqual((await ids(`${q} AND BuildIds = 'unversioned'`)).length, 3);
  assert.deepEqual(await ids(`${q} AND BuildIds IN ('versioned:${buildId}', 'assigned:${buildId}')`), []);
  const listedTop = runOf[top];
  assert.deepEqual(listedTop.searchAttributes.BuildIds, ['unversioned', `unversioned:${buildId}`]);
});

sdkTest('visibility: HistorySizeBytes and HistoryLength as history tracks them, ORDER BY them', {}, async () => {
  const taskQueue = uniq('vis2-size');
  const sizes = [1, 12, 4, 25];
  const ids0 = sizes.map((n) => `${taskQueue}-${n}`);
  await env.withWorker({ taskQueue, activities }, async () => {
    await Promise.all(sizes.map((n, i) => env.client.workflow.execute('manyTimers', { taskQueue, workflowId: ids0[i], args: [n] })));
  });
  const q = `TaskQueue = '${taskQueue}'`;
  await settled(`${q} AND ExecutionStatus = 'Completed'`, sizes.length);
  const listed = {};
  for await (const w of env.client.workflow.list({ query: q })) listed[w.workflowId] = w;
  const described = {};
  for (const id of ids0) {
    const d = await env.client.workflow.getHandle(id).describe();
    const h = await env.client.workflow.getHandle(id).fetchHistory();
    described[id] = d;
    assert.ok(d.historySize > 0);
    assert.equal(listed[id].historySize, d.historySize, `${id}: HistorySizeBytes as Describe says`);
    assert.equal(listed[id].historyLength, h.events.length, `${id}: HistoryLength`);
  }
  // more timers, more history
  const bySize = [...ids0].sort((a, b) => described[b].historySize - described[a].historySize);
  assert.deepEqual(bySize, [ids0[3], ids0[1], ids0[2], ids0[0]]);
  assert.deepEqual(await ids(`${q} ORDER BY HistorySizeBytes DESC`, 1), bySize);
  assert.deepEqual(await ids(`${q} ORDER BY HistorySizeBytes`, 3), [...bySize].reverse());
  assert.deepEqual(await ids(`${q} ORDER BY HistoryLength DESC, StartTime`, 2), bySize);
  const min = described[ids0[2]].historySize;
  assert.deepEqual((await ids(`${q} AND HistorySizeBytes > ${min}`)).sort(), [ids0[1], ids0[3]].sort());
  assert.deepEqual(await ids(`${q} AND HistorySizeBytes = 0`), []);
});

sdkTest('visibility: Text word match, != and ORDER BY refused; ORDER BY a custom Int with paging', {}, async () => {
  const taskQueue = uniq('vis2-text');
  const textKey = sdkCommon.defineSearchAttributeKey('CustomTextField', sdkCommon.SearchAttributeType.TEXT);
  const intKey = sdkCommon.defineSearchAttributeKey('CustomIntField', sdkCommon.SearchAttributeType.INT);
  const notes = [
    'Order shipped to Berlin',
    'order CANCELLED: customer request',
    'refund issued (partial)',
    'Shipped-again after refund',
    'no keywords here',
  ];
  const ids0 = notes.map((_, i) => `${taskQueue}-${i}`);
  await env.withWorker({ taskQueue, activities }, async () => {
    await Promise.all(
      notes.map((t, i) =>
        env.client.workflow.execute('hello', {
          taskQueue,
          workflowId: ids0[i],
          args: [String(i)],
          typedSearchAttributes: [
            { key: textKey, value: t },
            ...(i === 4 ? [] : [{ key: intKey, value: (i * 7) % 5 }]),
          ],
        }),
      ),
    );
    // one run without the Text attribute at all
    await env.client.workflow.execute('hello', { taskQueue, workflowId: `${taskQueue}-bare`, args: ['x'] });
  });
  const q = `TaskQueue = '${taskQueue}'`;
  await settled(`${q} AND ExecutionStatus = 'Completed'`, notes.length + 1);
  const sorted = async (query) => (await ids(query)).sort();
  const pick = (...is) => is.map((i) => ids0[i]).sort();
  assert.deepEqual(await sorted(`${q} AND CustomTextField = 'shipped'`), pick(0, 3));
  assert.deepEqual(await sorted(`${q} AND CustomTextField = 'ORDER'`), pick(0, 1));
  assert.deepEqual(await sorted(`${q} AND CustomTextField = 'refund berlin'`), pick(0, 2, 3)); // any word
  assert.deepEqual(await sorted(`${q} AND CustomTextField = 'cancelled:'`), pick(1));
  assert.deepEqual(await sorted(`${q} AND CustomTextField = 'ship'`), []); // words, not prefixes
  // != : has the attribute and none of the words (the run without it is not listed)
  assert.deepEqual(await sorted(`${q} AND CustomTextField != 'shipped'`), pick(1, 2, 4));
  assert.deepEqual(await sorted(`${q} AND NOT CustomTextField = 'refund'`), pick(0, 1, 4));
  assert.equal((await env.client.workflow.count(`${q} AND CustomTextField IS NULL`)).count, 1);
  // the listed value is the whole text
  const one = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId = '${ids0[2]}'` })) one.push(w);
  assert.equal(one[0].typedSearchAttributes.get(textKey), notes[2]);

  const svc = env.client.workflowService;
  for (const [query, re] of [
    [`${q} ORDER BY CustomTextField`, /cannot sort by search attribute CustomTextField of type Text at column \d+ near 'CustomTextField'/],
    [`${q} AND CustomTextField = ' !! '`, /no tokens found filtering on Text search attribute CustomTextField/],
    [`${q} AND CustomTextField STARTS_WITH 'sh'`, /operator STARTS_WITH is not supported for search attribute CustomTextField of type Text/],
  ]) {
    await assert.rejects(
      () => svc.listWorkflowExecutions({ namespace: 'default', query }),
      (err) => err.code === 3 && re.test(err.details ?? err.message),
      query,
    );
  }

  // ORDER BY a custom Int (values 0, 2, 4, 1, -: the missing one last ascending, first
  // descending), pages of 2 so the page token carries the sort keys
  const byInt = [ids0[0], ids0[3], ids0[1], ids0[2], ids0[4]];
  const filt = `${q} AND CustomTextField IS NOT NULL`;
  assert.deepEqual(await ids(`${filt} ORDER BY CustomIntField`, 2), byInt);
  assert.deepEqual(await ids(`${filt} ORDER BY CustomIntField DESC`, 2), [...byInt].reverse());
  assert.deepEqual(await ids(`${filt} AND CustomIntField >= 2 ORDER BY CustomIntField DESC, StartTime`, 1), [ids0[2], ids0[1]]);
});
