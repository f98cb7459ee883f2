// SPDX-License-Identifier: Apache-2.0
// What SDKs read closely, as Temporal gives it: Datetime search attributes decoded to Dates on
// every path (start, upsert, describe, list, the workflow's own info in its first task and
// after continue-as-new), unset workflow timeouts absent (not zero) with the workflow task
// timeout defaulted to 10 s, user metadata (summary and details) of workflows, children,
// timers and activities in Describe and history, and the id and name limits of every RPC
// (limit.maxIDLength, here 200; update-with-start included). Run by test/sdk/run.sh.
import assert from 'node:assert/strict';
import { useTemporald, sdkTest, sdkClient, sdkCommon, sdkProto, uniq, eventsOf, attrs, waitFor, num } from './harness.mjs';

const env = useTemporald({
  args: [
    '--search-attribute', 'CustomDatetimeField=Datetime',
    '--search-attribute', 'CustomKeywordField=Keyword',
    '--dynamic-config-value', 'limit.maxIDLength=200',
  ],
});
const { WithStartWorkflowOperation } = sdkClient;
const dtKey = sdkCommon.defineSearchAttributeKey('CustomDatetimeField', sdkCommon.SearchAttributeType.DATETIME);
const activities = { async greet(name) { return `hello ${name}`; } };

const typeOf = (payload) => (payload?.metadata?.type ? Buffer.from(payload.metadata.type).toString() : undefined);

sdkTest('Datetime search attributes stay Datetime: start, upsert, describe, list, workflow info, continue-as-new', {}, async () => {
  const taskQueue = uniq('dt');
  const workflowId = uniq('dt-wf');
  const started = new Date('2024-05-06T07:08:09.123Z');
  const upserted = '2025-01-02T03:04:05.678Z';
  const views = await env.withWorker({ taskQueue, activities }, async () => {
    const h = await env.client.workflow.start('datetimeAttrs', {
      taskQueue,
      workflowId,
      args: [0, upserted],
      // the legacy form: the SDK sends the value without a type in its metadata
      searchAttributes: { CustomDatetimeField: [started] },
    });
    return h.result();
  });
  assert.deepEqual(views, [
    { legacy: started.toISOString(), typed: started.toISOString() }, // first task of run 1
    { legacy: upserted, typed: upserted }, // after the upsert
    { legacy: upserted, typed: upserted }, // first task of the run continued as new
  ]);
  // Describe of both runs (the first: closed after its upsert; the current: inherited).
  const runs = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(w);
  assert.equal(runs.length, 2);
  for (const w of runs) {
    assert.ok(w.searchAttributes.CustomDatetimeField[0] instanceof Date, `list: ${w.searchAttributes.CustomDatetimeField}`);
    assert.equal(w.typedSearchAttributes.get(dtKey)?.toISOString(), upserted);
    const d = await env.handle(workflowId, w.runId).describe();
    assert.ok(d.searchAttributes.CustomDatetimeField[0] instanceof Date, 'describe: a Date');
    assert.equal(d.searchAttributes.CustomDatetimeField[0].toISOString(), upserted);
    assert.equal(d.typedSearchAttributes.get(dtKey)?.toISOString(), upserted);
  }
  // The events carry the type the SDKs decode by.
  const first = runs.find((w) => w.status.name === 'CONTINUED_AS_NEW');
  const h1 = await env.handle(workflowId, first.runId).fetchHistory();
  const st = attrs(eventsOf(h1, 'WorkflowExecutionStarted')[0]);
  assert.equal(typeOf(st.searchAttributes.indexedFields.CustomDatetimeField), 'Datetime');
  const up = attrs(eventsOf(h1, 'UpsertWorkflowSearchAttributes')[0]);
  assert.equal(typeOf(up.searchAttributes.indexedFields.CustomDatetimeField), 'Datetime');
  // A typed start keeps its type too, and a keyword is typed Keyword.
  const id2 = uniq('dt-typed');
  await env.client.workflow.start('sleeper', {
    taskQueue: uniq('dt-nobody'),
    workflowId: id2,
    typedSearchAttributes: [{ key: dtKey, value: started }],
    searchAttributes: { CustomKeywordField: ['kw'] },
  });
  const d2 = await env.handle(id2).describe();
  assert.equal(d2.typedSearchAttributes.get(dtKey)?.toISOString(), started.toISOString());
  assert.equal(typeOf(d2.raw.workflowExecutionInfo.searchAttributes.indexedFields.CustomKeywordField), 'Keyword');
  await env.handle(id2).terminate();
});

sdkTest('unset workflow timeouts stay absent; the workflow task timeout defaults to 10 s', {}, async () => {
  const taskQueue = uniq('to');
  const workflowId = uniq('to-wf');
  const seen = await env.withWorker({ taskQueue, activities }, async () =>
    env.client.workflow.execute('timeoutsInfo', { taskQueue, workflowId }),
  );
  assert.deepEqual(seen, { execution: null, run: null, task: 10000 });
  const d = await env.handle(workflowId).describe();
  const cfg = d.raw.executionConfig;
  assert.equal(cfg.workflowExecutionTimeout, null, `execution timeout: ${JSON.stringify(cfg.workflowExecutionTimeout)}`);
  assert.equal(cfg.workflowRunTimeout, null, `run timeout: ${JSON.stringify(cfg.workflowRunTimeout)}`);
  assert.equal(num(cfg.defaultWorkflowTaskTimeout.seconds), 10);
  const st = attrs(eventsOf(await env.handle(workflowId).fetchHistory(), 'WorkflowExecutionStarted')[0]);
  assert.equal(st.workflowExecutionTimeout, null);
  assert.equal(st.workflowRunTimeout, null);
  assert.equal(num(st.workflowTaskTimeout.seconds), 10);
  // Set ones come back as given (the run timeout defaults to the execution timeout).
  const id2 = uniq('to-set');
  const seen2 = await env.withWorker({ taskQueue, activities }, async () =>
    env.client.workflow.execute('timeoutsInfo', { taskQueue, workflowId: id2, workflowExecutionTimeout: '1h', workflowTaskTimeout: '7s' }),
  );
  assert.deepEqual(seen2, { execution: 3600000, run: 3600000, task: 7000 });
});

sdkTest('user metadata: summary and details of a workflow, its child, timer and activity', {}, async () => {
  const taskQueue = uniq('md');
  const workflowId = uniq('md-wf');
  await env.withWorker({ taskQueue, activities }, async () => {
    const h = await env.client.workflow.start('withMetadata', {
      taskQueue,
      workflowId,
      staticSummary: 'workflow summary',
      staticDetails: 'workflow **details**',
    });
    await h.result();
  });
  const d = await env.handle(workflowId).describe();
  assert.equal(await d.staticSummary(), 'workflow summary');
  assert.equal(await d.staticDetails(), 'workflow **details**');
  const child = await env.handle(`${workflowId}-child`).describe();
  assert.equal(await child.staticSummary(), 'child summary');
  assert.equal(await child.staticDetails(), 'child details');
  const conv = sdkCommon.defaultPayloadConverter;
  const summaryOf = (ev) => (ev.userMetadata?.summary ? conv.fromPayload(ev.userMetadata.summary) : undefined);
  const detailsOf = (ev) => (ev.userMetadata?.details ? conv.fromPayload(ev.userMetadata.details) : undefined);
  const h = await env.handle(workflowId).fetchHistory();
  const started = eventsOf(h, 'WorkflowExecutionStarted')[0];
  assert.equal(summaryOf(started), 'workflow summary');
  assert.equal(detailsOf(started), 'workflow **details**');
  assert.equal(summaryOf(eventsOf(h, 'TimerStarted')[0]), 'timer summary');
  assert.equal(summaryOf(eventsOf(h, 'ActivityTaskScheduled')[0]), 'activity summary');
  const init = eventsOf(h, 'StartChildWorkflowExecutionInitiated')[0];
  assert.equal(summaryOf(init), 'child summary');
  assert.equal(detailsOf(init), 'child details');
  const ch = await env.handle(`${workflowId}-child`).fetchHistory();
  assert.equal(summaryOf(eventsOf(ch, 'WorkflowExecutionStarted')[0]), 'child summary');
});

sdkTest('id and name limits (limit.maxIDLength): update-with-start, start, signal, query, describe', {}, async () => {
  const taskQueue = uniq('ids');
  const long = 'x'.repeat(2772);
  const over = 'y'.repeat(201); // just over the configured limit of 200
  const invalid = (field) => (e) => {
    const err = e?.cause ?? e;
    assert.equal(err.code, 3, `INVALID_ARGUMENT expected: ${err}`);
    assert.match(err.details ?? err.message, new RegExp(`${field} length exceeds limit`));
    return true;
  };
  // update-with-start: the workflow id, then the workflow type, request id and identity of the start
  for (const [opts, field] of [
    [{ workflowId: long }, 'WorkflowId'],
    [{ workflowId: over }, 'WorkflowId'],
    [{ workflowId: uniq('ids-wf') , type: over }, 'WorkflowType'],
  ]) {
    const op = new WithStartWorkflowOperation(opts.type ?? 'updateTarget', {
      workflowId: opts.workflowId,
      taskQueue,
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    await assert.rejects(env.client.workflow.startUpdateWithStart('setValue', { args: ['v'], waitForStage: 'ACCEPTED', startWorkflowOperation: op }), invalid(field));
    await assert.rejects(op.workflowHandle(), invalid(field));
  }
  // the same fields of the other calls
  await assert.rejects(env.client.workflow.start('sleeper', { taskQueue, workflowId: over }), invalid('WorkflowId'));
  await assert.rejects(env.client.workflow.start(over, { taskQueue, workflowId: uniq('ids') }), invalid('WorkflowType'));
  await assert.rejects(env.client.workflow.start('sleeper', { taskQueue: over, workflowId: uniq('ids') }), invalid('TaskQueue'));
  const id = uniq('ids-ok');
  const h = await env.client.workflow.start('sleeper', { taskQueue, workflowId: id });
  await assert.rejects(h.signal(over), invalid('SignalName'));
  await assert.rejects(env.handle(over).describe(), invalid('WorkflowId'));
  await assert.rejects(
    env.client.workflowService.signalWithStartWorkflowExecution({
      namespace: 'default', workflowId: uniq('ids-sws'), workflowType: { name: 'sleeper' }, taskQueue: { name: taskQueue },
      signalName: 's', identity: over, requestId: uniq('r'),
    }),
    invalid('Identity'),
  );
  await assert.rejects(
    env.client.workflowService.requestCancelWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId: id }, requestId: over }),
    invalid('RequestId'),
  );
  await h.terminate();
});
