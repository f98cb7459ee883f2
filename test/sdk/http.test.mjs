// SPDX-License-Identifier: Apache-2.0
// The HTTP API (Temporal's google.api.http bindings, proto3 JSON) through plain fetch against a
// temporald whose workflows run on a TypeScript SDK worker: start, describe, signal, query,
// history, list, count, terminate; payload shorthand both ways; the proto3 JSON rules (names,
// int64 as strings, enums, Duration, Timestamp, bytes, unknown fields with their path); errors
// as google.rpc.Status JSON with grpc-gateway's HTTP status; the 4 MiB body limit; unknown
// routes and methods. The SDK (gRPC) cross-checks what HTTP did. Run by test/sdk/run.sh.
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { useTemporald, sdkTest, uniq, freePort, waitFor } from './harness.mjs';

const httpPort = await freePort();
const env = useTemporald({ args: ['--http-port', String(httpPort)] });
const base = `http://127.0.0.1:${httpPort}`;
const ns = `${base}/api/v1/namespaces/default`;

async function call(method, url, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // left null: the test checks it
  }
  return { status: res.status, json, text, type: res.headers.get('content-type') };
}
const get = (url) => call('GET', url);
const post = (url, body = {}) => call('POST', url, body);
const b64 = (s) => Buffer.from(s).toString('base64');
const unb64 = (s) => Buffer.from(s, 'base64').toString();
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$/;

function startBody(taskQueue, args, extra = {}) {
  return { workflowType: { name: 'collect' }, taskQueue: { name: taskQueue }, input: args, ...extra };
}

sdkTest('start, describe, signal, query, history, list, count, terminate over HTTP', {}, async () => {
  const taskQueue = uniq('http');
  const id = uniq('http-wf');
  await env.withWorker({ taskQueue }, async () => {
    const st = await post(`${ns}/workflows/${id}`, startBody(taskQueue, [0], { workflowRunTimeout: '90.5s' }));
    assert.equal(st.status, 200, st.text);
    assert.equal(st.type, 'application/json');
    assert.match(st.json.runId, /^[0-9a-f-]{36}$/);
    assert.equal(st.json.started, true);

    // describe: both path forms, enums by name, int64 as strings, Duration, Timestamp
    const d = await get(`${ns}/workflows/${id}`);
    assert.equal(d.status, 200, d.text);
    const info = d.json.workflowExecutionInfo;
    assert.equal(info.execution.workflowId, id);
    assert.equal(info.execution.runId, st.json.runId);
    assert.equal(info.status, 'WORKFLOW_EXECUTION_STATUS_RUNNING');
    assert.equal(info.type.name, 'collect');
    assert.equal(typeof info.historyLength, 'string');
    assert.match(info.startTime, RFC3339);
    assert.equal(d.json.executionConfig.workflowRunTimeout, '90.500s');
    const unprefixed = await get(`${base}/namespaces/default/workflows/${id}`);
    assert.equal(unprefixed.status, 200);
    assert.equal(unprefixed.json.workflowExecutionInfo.execution.runId, st.json.runId);

    // signal with a shorthand payload and with a full one, then query
    assert.equal((await post(`${ns}/workflows/${id}/signal/add`, { input: ['one'] })).status, 200);
    const full = { payloads: [{ metadata: { encoding: b64('json/plain') }, data: b64('{"n":2}') }] };
    const s2 = await post(`${ns}/workflows/${id}/signal/add`, { input: full });
    assert.equal(s2.status, 200, s2.text);
    await waitFor(async () => {
      const q = await post(`${ns}/workflows/${id}/query/state`, { query: {} });
      assert.equal(q.status, 200, q.text);
      return q.json.queryResult[0].values.length === 2 ? q : null;
    });
    const q = await post(`${ns}/workflows/${id}/query/state`, { query: {} });
    assert.deepEqual(q.json.queryResult, [{ values: ['one', { n: 2 }], done: false }]);

    // the SDK sees the same workflow over gRPC
    const handle = env.handle(id);
    assert.deepEqual(await handle.query('state'), { values: ['one', { n: 2 }], done: false });

    // history: shorthand by default, ordinary payloads with ?noPayloadShorthand
    const h = await get(`${ns}/workflows/${id}/history`);
    assert.equal(h.status, 200, h.text);
    const events = h.json.history.events;
    assert.equal(events[0].eventId, '1');
    assert.equal(events[0].eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
    assert.match(events[0].eventTime, RFC3339);
    assert.deepEqual(events[0].workflowExecutionStartedEventAttributes.input, [0]);
    const sig = events.filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED');
    assert.deepEqual(sig.map((e) => e.workflowExecutionSignaledEventAttributes.input), [['one'], [{ n: 2 }]]);
    const raw = await get(`${ns}/workflows/${id}/history?noPayloadShorthand=true`);
    const p0 = raw.json.history.events[0].workflowExecutionStartedEventAttributes.input.payloads[0];
    assert.equal(unb64(p0.metadata.encoding), 'json/plain');
    assert.equal(unb64(p0.data), '0');
    // paging: bytes (the page token) as base64 in a query parameter
    const page1 = await get(`${ns}/workflows/${id}/history?maximumPageSize=2`);
    assert.equal(page1.json.history.events.length, 2);
    assert.ok(page1.json.nextPageToken, page1.text);
    const page2 = await get(`${ns}/workflows/${id}/history?maximumPageSize=2&nextPageToken=${encodeURIComponent(page1.json.nextPageToken)}`);
    assert.equal(page2.status, 200, page2.text);
    assert.equal(page2.json.history.events[0].eventId, '3');

    // list and count with a query
    const query = encodeURIComponent(`WorkflowId = "${id}"`);
    await waitFor(async () => (await get(`${ns}/workflows?query=${query}`)).json.executions?.length === 1);
    const list = await get(`${ns}/workflows?query=${query}`);
    assert.equal(list.json.executions[0].execution.runId, st.json.runId);
    assert.equal(list.json.executions[0].status, 'WORKFLOW_EXECUTION_STATUS_RUNNING');
    const count = await get(`${ns}/workflow-count?query=${query}`);
    assert.equal(count.json.count, '1');

    // terminate; both transports see it
    const t = await post(`${ns}/workflows/${id}/terminate`, { reason: 'over http' });
    assert.equal(t.status, 200, t.text);
    const after = await get(`${ns}/workflows/${id}`);
    assert.equal(after.json.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_TERMINATED');
    assert.equal((await handle.describe()).status.name, 'TERMINATED');
  });
});

sdkTest('payload shorthand both ways: plain JSON, full payloads, null, json/protobuf', {}, async () => {
  const taskQueue = uniq('http-sh');
  const id = uniq('http-sh-wf');
  await env.withWorker({ taskQueue }, async () => {
    // the input in the ordinary form (base64), a result read back in shorthand
    const full = { payloads: [{ metadata: { encoding: b64('json/plain') }, data: b64('2') }] };
    const st = await post(`${ns}/workflows/${id}`, startBody(taskQueue, full));
    assert.equal(st.status, 200, st.text);
    await post(`${ns}/workflows/${id}/signal/add`, { input: [{ html: '<b>x</b>', list: [1, 2.5, null] }] });
    await post(`${ns}/workflows/${id}/signal/add`, { input: [null] });
    assert.deepEqual(await env.handle(id).result(), [{ html: '<b>x</b>', list: [1, 2.5, null] }, null]);
    const h = await get(`${ns}/workflows/${id}/history`);
    const done = h.json.history.events.find((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED');
    assert.deepEqual(done.workflowExecutionCompletedEventAttributes.result, [[{ html: '<b>x</b>', list: [1, 2.5, null] }, null]]);
    const raw = await get(`${ns}/workflows/${id}/history?noPayloadShorthand`);
    const sigs = raw.json.history.events.filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED');
    const nul = sigs[1].workflowExecutionSignaledEventAttributes.input.payloads[0];
    assert.equal(unb64(nul.metadata.encoding), 'binary/null');
  });
  // json/protobuf payloads carry their message type in "_protoMessageType"
  const id2 = uniq('http-pb');
  const st2 = await post(`${ns}/workflows/${id2}`, startBody(uniq('nobody'), [{ _protoMessageType: 'x.v1.Thing', a: 1 }]));
  assert.equal(st2.status, 200, st2.text);
  const raw2 = await get(`${ns}/workflows/${id2}/history?noPayloadShorthand`);
  const p = raw2.json.history.events[0].workflowExecutionStartedEventAttributes.input.payloads[0];
  assert.equal(unb64(p.metadata.encoding), 'json/protobuf');
  assert.equal(unb64(p.metadata.messageType), 'x.v1.Thing');
  assert.deepEqual(JSON.parse(unb64(p.data)), { a: 1 });
  const sh2 = await get(`${ns}/workflows/${id2}/history`);
  assert.deepEqual(sh2.json.history.events[0].workflowExecutionStartedEventAttributes.input, [{ a: 1, _protoMessageType: 'x.v1.Thing' }]);
  await post(`${ns}/workflows/${id2}/terminate`, {});
});

sdkTest('proto3 JSON rules: names, enums, numbers, durations, unknown fields', {}, async () => {
  const tq = uniq('nobody');
  // original field names are accepted as well as lowerCamelCase; enums by name, short name, number
  const id = uniq('http-json');
  const st = await post(`${ns}/workflows/${id}`, {
    workflow_type: { name: 'collect' },
    task_queue: { name: tq, kind: 'TASK_QUEUE_KIND_NORMAL' },
    workflowIdReusePolicy: 2,
    workflowIdConflictPolicy: 'Fail',
    workflowTaskTimeout: '7s',
    memo: { fields: { note: 'hello' } },
  });
  assert.equal(st.status, 200, st.text);
  const d = await get(`${ns}/workflows/${id}?pretty`);
  assert.match(d.text, /\n {2}"/, 'pretty output is indented');
  assert.equal(d.json.executionConfig.defaultWorkflowTaskTimeout, '7s');
  assert.deepEqual(d.json.workflowExecutionInfo.memo.fields.note, 'hello');
  // numbers in query parameters are read from their text, and refused when not numbers
  const h1 = await get(`${ns}/workflows/${id}/history?maximumPageSize=1`);
  assert.equal(h1.status, 200, h1.text);
  const h2 = await get(`${ns}/workflows/${id}/history?maximumPageSize=abc`);
  assert.equal(h2.status, 400);
  assert.match(h2.json.message, /maximumPageSize: expected an integer/);
  const bad = [
    [{ workflowType: { name: 5 } }, /workflowType\.name/],
    [{ workflowType: { name: 'x', bogus: 1 } }, /workflowType\.bogus: unknown field/],
    [{ taskQueue: { name: 'x', kind: 'NO_SUCH_KIND' } }, /taskQueue\.kind: unknown value "NO_SUCH_KIND"/],
    [{ workflowRunTimeout: 5 }, /workflowRunTimeout: expected a duration/],
    [{ workflowRunTimeout: '5 minutes' }, /workflowRunTimeout/],
    [{ input: { payloads: [{ metadata: { encoding: b64('json/plain') }, data: '!!' }] } }, /data: expected base64/],
    [{ memo: [] }, /memo: expected an object/],
    [{ workflowIdReusePolicy: true }, /workflowIdReusePolicy/],
  ];
  for (const [body, re] of bad) {
    const r = await post(`${ns}/workflows/${uniq('bad')}`, { workflowType: { name: 'w' }, taskQueue: { name: tq }, ...body });
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.code, 3);
    assert.match(r.json.message, re);
  }
  // an unknown query parameter names itself
  const q = await get(`${ns}/workflows/${id}?noSuchParam=1`);
  assert.equal(q.status, 400);
  assert.match(q.json.message, /noSuchParam: unknown field/);
  // nested query parameters address fields by path
  const byRun = await get(`${ns}/workflows/${id}?execution.runId=${st.json.runId}`);
  assert.equal(byRun.status, 200, byRun.text);
  await post(`${ns}/workflows/${id}/terminate`, {});
});

sdkTest('errors: google.rpc.Status JSON with grpc-gateway status codes', {}, async () => {
  const tq = uniq('nobody');
  const missing = await get(`${ns}/workflows/${uniq('missing')}`);
  assert.equal(missing.status, 404);
  assert.equal(missing.json.code, 5);
  assert.equal(missing.json.details[0]['@type'], 'type.googleapis.com/temporal.api.errordetails.v1.NotFoundFailure');

  const id = uniq('dup');
  assert.equal((await post(`${ns}/workflows/${id}`, startBody(tq, []))).status, 200);
  const dup = await post(`${ns}/workflows/${id}`, startBody(tq, []));
  assert.equal(dup.status, 409, dup.text);
  assert.equal(dup.json.code, 6);
  assert.equal(dup.json.details[0]['@type'], 'type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure');
  assert.ok(dup.json.details[0].runId);
  await post(`${ns}/workflows/${id}/terminate`, {});

  const nons = await get(`${base}/api/v1/namespaces/no-such-ns/workflows/x`);
  assert.equal(nons.status, 404);
  assert.equal(nons.json.details[0]['@type'], 'type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure');
  assert.equal(nons.json.details[0].namespace, 'no-such-ns');

  const malformed = await post(`${ns}/workflows/x`, '{"workflowType":');
  assert.equal(malformed.status, 400);
  assert.equal(malformed.json.code, 3);
  assert.match(malformed.json.message, /malformed JSON/);

  const unknown = await get(`${base}/api/v1/no/such/route`);
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.code, 5);
  assert.match(unknown.json.message, /GET \/api\/v1\/no\/such\/route: no such route/);

  const method = await call('DELETE', `${ns}/workflows/x`);
  assert.equal(method.status, 405);
  assert.equal(method.json.code, 12);

  // a bound RPC that temporald does not serve
  const unimpl = await get(`${ns}/worker-deployments`);
  assert.equal(unimpl.status, 501, unimpl.text);
  assert.equal(unimpl.json.code, 12);
  assert.match(unimpl.json.message, /ListWorkerDeployments/);

  // the 4 MiB body limit; the server stays up and answers the next request
  const big = JSON.stringify({ workflowType: { name: 'x' }, taskQueue: { name: tq }, input: ['x'.repeat(5 << 20)] });
  const tooBig = await post(`${ns}/workflows/${uniq('big')}`, big);
  assert.equal(tooBig.status, 413);
  assert.equal(tooBig.json.code, 8);
  assert.match(tooBig.json.message, /4194304/);
  const justUnder = JSON.stringify({ workflowType: { name: 'x' }, taskQueue: { name: tq }, input: ['x'.repeat(1 << 20)] });
  const ok = await post(`${ns}/workflows/${uniq('under')}`, justUnder);
  assert.equal(ok.status, 200, ok.text.slice(0, 300));
  assert.equal((await get(`${ns}`)).status, 200);
});

sdkTest('the route list: every binding, generated from the protos', {}, async () => {
  const r = await get(`${base}/api/v1`);
  assert.equal(r.status, 200, r.text);
  const routes = r.json.routes;
  assert.ok(routes.length >= 200, `${routes.length} routes`);
  const start = routes.filter((x) => x.rpc === 'temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution');
  assert.deepEqual(start.map((x) => x.path).sort(), ['/api/v1/namespaces/{namespace}/workflows/{workflow_id}', '/namespaces/{namespace}/workflows/{workflow_id}']);
  assert.ok(start.every((x) => x.method === 'POST' && x.body === '*'));
  assert.ok(routes.some((x) => x.rpc === 'temporal.api.operatorservice.v1.OperatorService/ListSearchAttributes'));
  assert.ok(routes.some((x) => x.path === '/api/v1/namespaces/{namespace}/workflows/{execution.workflow_id}' && x.method === 'GET'));
  assert.equal((await get(`${base}/`)).json.routes.length, routes.length);
});

sdkTest('namespaces, cluster and system info, search attributes over HTTP', {}, async () => {
  const list = await get(`${base}/api/v1/namespaces`);
  assert.equal(list.status, 200, list.text);
  assert.ok(list.json.namespaces.some((n) => n.namespaceInfo.name === 'default'));
  const one = await get(`${ns}`);
  assert.equal(one.json.namespaceInfo.state, 'NAMESPACE_STATE_REGISTERED');
  assert.equal(one.json.config.workflowExecutionRetentionTtl, '86400s');
  const sys = await get(`${base}/api/v1/system-info`);
  assert.equal(sys.status, 200, sys.text);
  assert.ok(sys.json.capabilities);
  const sa = await get(`${ns}/search-attributes`);
  assert.equal(sa.status, 200, sa.text);
  assert.equal(sa.json.systemAttributes.WorkflowId, 'INDEXED_VALUE_TYPE_KEYWORD');
});

// Writes raw bytes on one connection and collects what comes back until the server closes it
// or `ms` pass.
function raw(bytes, ms = 3000) {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port: httpPort });
    let out = '';
    const done = () => {
      clearTimeout(t);
      sock.destroy();
      resolve(out);
    };
    const t = setTimeout(done, ms);
    sock.on('data', (d) => (out += d.toString('latin1')));
    sock.on('end', done);
    // A server that answers and closes while request bytes are still unread (an oversized
    // head, a refused body) makes the kernel send a reset; what arrived before it is the answer.
    sock.on('error', (e) => (e.code === 'ECONNRESET' ? done() : reject(e)));
    sock.write(bytes);
  });
}

sdkTest('HTTP/1.1 transport: pipelining, keep-alive after a refused body, bad requests', {}, async () => {
  const desc = 'GET /api/v1/namespaces/default HTTP/1.1\r\nHost: x\r\n\r\n';
  // three pipelined requests answered in order on one connection, the last closing it (a
  // body does not end in a line break, so the next status line follows it directly)
  const three = await raw(desc + 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n' + desc.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'));
  const statuses = [...three.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '404', '200']);
  assert.match(three, /Connection: close/);
  // a body over the limit is read and dropped: the next request on the connection is served
  const big = 'x'.repeat((4 << 20) + 10);
  const both = await raw(`POST /api/v1/namespaces/default/workflows/w HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n${big}${desc}`, 8000);
  assert.deepEqual([...both.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]), ['413', '200']);
  // a chunked body is refused with Status JSON, then the connection closes
  const chunked = await raw('POST /api/v1/namespaces/default/workflows/w HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
  assert.match(chunked, /^HTTP\/1\.1 400 /);
  assert.match(chunked, /"code":3,"message":"a request body needs a Content-Length"/);
  // malformed request lines and oversized heads get a plain 4xx and a closed connection
  assert.match(await raw('NONSENSE\r\n\r\n'), /^HTTP\/1\.1 400 /);
  assert.match(await raw(`GET / HTTP/1.1\r\nX-Big: ${'y'.repeat(70000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
  assert.match(await raw('GET / HTTP/1.1\r\nbad header line\r\n\r\n'), /^HTTP\/1\.1 400 /);
  // HTTP/1.0 without keep-alive: answered, then closed
  const h10 = await raw('GET /api/v1/namespaces/default HTTP/1.0\r\n\r\n');
  assert.match(h10, /^HTTP\/1\.1 200 /);
  assert.match(h10, /Connection: close/);
  // the server is still serving
  assert.equal((await get(`${ns}`)).status, 200);
});
