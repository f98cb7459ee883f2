// SPDX-License-Identifier: Apache-2.0
// A real gRPC client (@grpc/grpc-js) against temporald's RPC layer: the test server program
// (test/progs/grpc_testserver.c) for the wire matrix, temporald start-dev for the SDK
// connections. Run by test/grpc/run.sh with `node --test`.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import grpc from '@grpc/grpc-js';
import {
  startTestServer,
  startTemporald,
  client,
  call,
  rawCall,
  mdValue,
  stats,
  waitFor,
  makeCerts,
  freePort,
  RpcStatus,
  NamespaceNotFoundFailure,
  HealthCheckRequest,
  HealthCheckResponse,
} from './helpers.mjs';

const S = grpc.status;

describe('grpc-js against the test server (h2c)', () => {
  let srv;
  let c;
  before(async () => {
    srv = await startTestServer();
    c = client(srv.port);
  });
  after(async () => {
    c?.close();
    await srv?.stop();
  });

  test('unary call with metadata', async () => {
    const { resp } = await call(c, 'Echo', { data: Buffer.from('hello') }, { metadata: { 'x-test': 'v1' } });
    assert.equal(Buffer.from(resp.data).toString(), 'hello');
    assert.equal(mdValue(resp, 'x-test'), 'v1');
    assert.equal(mdValue(resp, 'grpc-encoding'), undefined);
  });

  test('3 MiB messages both ways', async () => {
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const { resp } = await call(c, 'Echo', { data: big });
    assert.equal(resp.data.length, big.length);
    assert.ok(Buffer.from(resp.data).equals(big));
    const r2 = await call(c, 'Big', { data: Buffer.from(String(3 << 20)) });
    assert.equal(r2.resp.data.length, 3 << 20);
    assert.equal(r2.resp.data[100], (100 * 7) & 0xff);
  });

  test('gzip-compressed requests', async () => {
    const gz = client(srv.port, { 'grpc.default_compression_algorithm': 2 });
    try {
      const data = Buffer.from('temporal '.repeat(200000));
      const { resp } = await call(gz, 'Echo', { data });
      assert.ok(Buffer.from(resp.data).equals(data));
      assert.equal(mdValue(resp, 'grpc-encoding'), 'gzip');
    } finally {
      gz.close();
    }
  });

  test('deadline: DEADLINE_EXCEEDED and the handler is cancelled', async () => {
    const t0 = Date.now();
    await assert.rejects(call(c, 'Hang', {}, { deadlineMs: 200 }), (e) => e.code === S.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 < 2000);
    const st = await waitFor(async () => {
      const s = await stats(c);
      return s.hanging === 0 ? s : null;
    });
    assert.ok(st, 'the hanging call was released');
  });

  test('cancellation in the middle of a long poll releases the waiter at once', async () => {
    const before0 = (await stats(c)).cancels;
    let handle;
    const p = call(c, 'Hang', {}, { onCall: (h) => (handle = h) });
    await waitFor(async () => (await stats(c)).hanging === 1);
    const t0 = Date.now();
    handle.cancel();
    await assert.rejects(p, (e) => e.code === S.CANCELLED);
    const st = await waitFor(async () => {
      const s = await stats(c);
      return s.cancels === before0 + 1 && s.hanging === 0 ? s : null;
    });
    assert.ok(st, 'server saw the cancellation');
    assert.ok(Date.now() - t0 < 1000, 'released promptly');
  });

  test('error details decoded by the client', async () => {
    const err = await call(c, 'Fail', { data: Buffer.from('nope') }).then(
      () => null,
      (e) => e,
    );
    assert.ok(err);
    assert.equal(err.code, S.NOT_FOUND);
    assert.equal(err.details, 'Namespace nope is not found. ünïcode%');
    const bin = err.metadata.get('grpc-status-details-bin')[0];
    assert.ok(Buffer.isBuffer(bin));
    const st = RpcStatus.decode(bin);
    assert.equal(st.code, S.NOT_FOUND);
    assert.equal(st.details.length, 1);
    assert.equal(st.details[0].type_url, 'type.googleapis.com/temporal.api.errordetails.v1.NamespaceNotFoundFailure');
    assert.equal(NamespaceNotFoundFailure.decode(st.details[0].value).namespace, 'nope');
  });

  test('unknown method and unknown service: UNIMPLEMENTED', async () => {
    await assert.rejects(call(c, 'NoSuchMethod'), (e) => e.code === S.UNIMPLEMENTED && /unknown method/.test(e.details));
    await assert.rejects(rawCall(c, '/no.such.Service/X', Buffer.alloc(0)), (e) => e.code === S.UNIMPLEMENTED && /unknown service/.test(e.details));
  });

  test('garbage protobuf: INTERNAL, server keeps serving', async () => {
    await assert.rejects(rawCall(c, '/temporald.test.Test/Echo', Buffer.from([0xff, 0xff, 0xff])), (e) => e.code === S.INTERNAL);
    const { resp } = await call(c, 'Echo', { data: Buffer.from('still') });
    assert.equal(Buffer.from(resp.data).toString(), 'still');
  });

  test('over the maximum receive size: RESOURCE_EXHAUSTED', async () => {
    await assert.rejects(call(c, 'Echo', { data: Buffer.alloc(5 << 20) }), (e) => e.code === S.RESOURCE_EXHAUSTED);
    const { resp } = await call(c, 'Echo', { data: Buffer.from('after') });
    assert.equal(Buffer.from(resp.data).toString(), 'after');
  });

  test('1,000 concurrent calls on one connection', async () => {
    const one = client(srv.port);
    try {
      const t0 = Date.now();
      const calls = [];
      for (let i = 0; i < 1000; i++) calls.push(call(one, 'Delay', { data: Buffer.from('500') }));
      // While they wait, all 1,000 are live on the server at once.
      const live = await waitFor(async () => {
        const s = await stats(c);
        return s.calls >= 1000 ? s : null;
      }, 5000);
      assert.ok(live, 'all 1000 calls live at the same time');
      const rs = await Promise.all(calls);
      assert.equal(rs.length, 1000);
      for (const r of rs) assert.equal(Buffer.from(r.resp.data).toString(), 'done');
      assert.ok(Date.now() - t0 < 20000);
    } finally {
      one.close();
    }
  });

  test('health: Check per service', async () => {
    const ser = (o) => Buffer.from(HealthCheckRequest.encode(HealthCheckRequest.fromObject(o)).finish());
    const r = await rawCall(c, '/grpc.health.v1.Health/Check', ser({ service: '' }));
    assert.equal(HealthCheckResponse.decode(r).status, 1);
    const r2 = await rawCall(c, '/grpc.health.v1.Health/Check', ser({ service: 'temporald.test.Test' }));
    assert.equal(HealthCheckResponse.decode(r2).status, 1);
    await assert.rejects(rawCall(c, '/grpc.health.v1.Health/Check', ser({ service: 'nope' })), (e) => e.code === S.NOT_FOUND);
  });

  test('health: Watch streams the status until cancelled', async () => {
    const ser = (o) => Buffer.from(HealthCheckRequest.encode(HealthCheckRequest.fromObject(o)).finish());
    const statuses = [];
    const stream = c.makeServerStreamRequest('/grpc.health.v1.Health/Watch', (b) => b, (b) => b, ser({ service: '' }),
      new grpc.Metadata(), {});
    const ended = new Promise((resolve) => {
      stream.on('data', (b) => {
        statuses.push(HealthCheckResponse.decode(b).status);
        stream.cancel();
      });
      stream.on('error', (e) => resolve(e.code));
      stream.on('end', () => resolve('end'));
    });
    assert.equal(await ended, S.CANCELLED);
    assert.deepEqual(statuses, [1]);
    const unknown = c.makeServerStreamRequest('/grpc.health.v1.Health/Watch', (b) => b, (b) => b,
      ser({ service: 'nope' }), new grpc.Metadata(), {});
    const unknownEnded = new Promise((resolve) => unknown.on('error', (e) => resolve(e.code)));
    const first = await new Promise((resolve) => unknown.on('data', (b) => resolve(HealthCheckResponse.decode(b).status)));
    unknown.cancel();
    assert.equal(first, 3); // SERVICE_UNKNOWN
    assert.equal(await unknownEnded, S.CANCELLED);
    const st = await waitFor(async () => {
      const s = await stats(c);
      return s.calls === 0 ? s : null;
    });
    assert.ok(st, 'the Watch calls were released');
  });

  test('frequent keepalive pings: answered, no GOAWAY', async () => {
    const k = client(srv.port, {
      'grpc.keepalive_time_ms': 50,
      'grpc.keepalive_timeout_ms': 1000,
      'grpc.keepalive_permit_without_calls': 1,
    });
    try {
      await call(k, 'Echo', { data: Buffer.from('a') });
      await new Promise((r) => setTimeout(r, 1200));
      const { resp } = await call(k, 'Echo', { data: Buffer.from('b') });
      assert.equal(Buffer.from(resp.data).toString(), 'b');
      assert.equal(k.getChannel().getConnectivityState(false), grpc.connectivityState.READY);
    } finally {
      k.close();
    }
  });
});

test('graceful shutdown: in-flight calls finish, then the server exits 0', async () => {
  const srv = await startTestServer();
  const c = client(srv.port);
  try {
    await call(c, 'Echo', { data: Buffer.from('warm') });
    const p = call(c, 'Delay', { data: Buffer.from('400') });
    await new Promise((r) => setTimeout(r, 100));
    const exited = srv.stop('SIGTERM');
    const { resp } = await p;
    assert.equal(Buffer.from(resp.data).toString(), 'done');
    assert.equal(await exited, 0);
  } finally {
    c.close();
    await srv.stop();
  }
});

describe('TLS and mTLS', () => {
  let certs;
  before(() => {
    certs = makeCerts();
  });
  after(() => certs?.cleanup());

  test('TLS: server certificate verified by the client', async () => {
    const srv = await startTestServer(['--cert', certs.serverCert, '--key', certs.serverKey]);
    const c = client(srv.port, {}, grpc.credentials.createSsl(readFileSync(certs.ca)));
    try {
      const { resp } = await call(c, 'Echo', { data: Buffer.from('secure') });
      assert.equal(Buffer.from(resp.data).toString(), 'secure');
      const big = await call(c, 'Big', { data: Buffer.from(String(3 << 20)) });
      assert.equal(big.resp.data.length, 3 << 20);
    } finally {
      c.close();
      await srv.stop();
    }
  });

  test('mTLS: a client certificate is required', async () => {
    const srv = await startTestServer([
      '--cert', certs.serverCert, '--key', certs.serverKey, '--ca', certs.ca, '--require-client-cert',
    ]);
    const ca = readFileSync(certs.ca);
    const good = client(srv.port, {}, grpc.credentials.createSsl(ca, readFileSync(certs.clientKey), readFileSync(certs.clientCert)));
    const bad = client(srv.port, {}, grpc.credentials.createSsl(ca));
    try {
      const { resp } = await call(good, 'Echo', { data: Buffer.from('mutual') });
      assert.equal(Buffer.from(resp.data).toString(), 'mutual');
      await assert.rejects(call(bad, 'Echo', { data: Buffer.from('x') }, { deadlineMs: 3000 }), (e) =>
        [S.UNAVAILABLE, S.DEADLINE_EXCEEDED].includes(e.code),
      );
    } finally {
      good.close();
      bad.close();
      await srv.stop();
    }
  });
});

test('temporald start-dev with [tls] from its config: mTLS for Connection.connect()', async () => {
  const certs = makeCerts();
  const conf = `${certs.dir}/tls.ini`;
  writeFileSync(conf, `[tls]\ncert_file = ${certs.serverCert}\nkey_file = ${certs.serverKey}\n` +
    `ca_file = ${certs.ca}\nrequire_client_cert = true\n`);
  const td = await startTemporald(['--config', conf]);
  try {
    const { Connection } = await import('@temporalio/client');
    const conn = await Connection.connect({
      address: `127.0.0.1:${td.port}`,
      connectTimeout: 5000,
      tls: {
        serverRootCACertificate: readFileSync(certs.ca),
        clientCertPair: { crt: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) },
      },
    });
    try {
      const info = await conn.workflowService.getSystemInfo({});
      assert.equal(info.capabilities.sdkMetadata, true);
    } finally {
      await conn.close();
    }
    const { NativeConnection } = await import('@temporalio/worker');
    const native = await NativeConnection.connect({
      address: `127.0.0.1:${td.port}`,
      tls: {
        serverRootCACertificate: readFileSync(certs.ca),
        clientCertPair: { crt: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) },
      },
    });
    await native.close();
    // without a client certificate the handshake is refused
    await assert.rejects(
      Connection.connect({
        address: `127.0.0.1:${td.port}`,
        connectTimeout: 2000,
        tls: { serverRootCACertificate: readFileSync(certs.ca) },
      }),
    );
  } finally {
    assert.equal(await td.stop('SIGTERM'), 0);
    certs.cleanup();
  }
});

test('temporald start-dev with [tls]: the HTTP API speaks HTTPS with the same certificates', async () => {
  const certs = makeCerts();
  const conf = `${certs.dir}/tls-http.ini`;
  writeFileSync(conf, `[tls]\ncert_file = ${certs.serverCert}\nkey_file = ${certs.serverKey}\n` +
    `ca_file = ${certs.ca}\nrequire_client_cert = true\n`);
  const httpPort = await freePort();
  const td = await startTemporald(['--config', conf, '--http-port', String(httpPort)]);
  const https = await import('node:https');
  const get = (opts) => new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: httpPort, path: '/api/v1/namespaces/default', ca: readFileSync(certs.ca), agent: false, ...opts }, (res) => {
      const alpn = res.socket.alpnProtocol;
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body, alpn }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  try {
    const ok = await get({ cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey), ALPNProtocols: ['http/1.1'] });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).namespaceInfo.name, 'default');
    assert.equal(ok.alpn, 'http/1.1');
    // the client certificate is required there too, and cleartext is not spoken
    await assert.rejects(get({}));
    await assert.rejects(fetch(`http://127.0.0.1:${httpPort}/api/v1/namespaces/default`));
  } finally {
    assert.equal(await td.stop('SIGTERM'), 0);
    certs.cleanup();
  }
});

describe('Temporal SDK connections against temporald start-dev', () => {
  let td;
  before(async () => {
    td = await startTemporald();
  });
  after(async () => {
    const code = await td?.stop('SIGTERM');
    assert.equal(code, 0);
  });

  test('Connection.connect() from @temporalio/client', async () => {
    const { Connection } = await import('@temporalio/client');
    const conn = await Connection.connect({ address: `127.0.0.1:${td.port}`, connectTimeout: 5000 });
    try {
      const info = await conn.workflowService.getSystemInfo({});
      assert.ok(info.serverVersion);
      assert.equal(info.capabilities.sdkMetadata, true);
      assert.equal(info.capabilities.buildIdBasedVersioning, true);
      assert.equal(info.capabilities.activityFailureIncludeHeartbeat, true);
      assert.equal(info.capabilities.eagerWorkflowStart, false);
      assert.equal(info.capabilities.nexus, false);
      const h = await conn.healthService.check({});
      assert.equal(h.status, 1);
    } finally {
      await conn.close();
    }
  });

  test('NativeConnection.connect() from @temporalio/worker (gzip by default)', async () => {
    const { NativeConnection } = await import('@temporalio/worker');
    const conn = await NativeConnection.connect({ address: `127.0.0.1:${td.port}` });
    try {
      const info = await conn.workflowService.getSystemInfo({});
      assert.equal(info.capabilities.sdkMetadata, true);
    } finally {
      await conn.close();
    }
  });
});

// Hand-encoded protobuf (the public protos are not loaded here): a length-delimited field.
function varint(n) {
  const out = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
const lenField = (no, bytes) => Buffer.concat([varint((no << 3) | 2), varint(bytes.length), Buffer.from(bytes)]);
const WS = '/temporal.api.workflowservice.v1.WorkflowService';

describe('temporald start-dev: oversize statuses, invalid UTF-8, failed calls in the log', () => {
  let td;
  let c;
  before(async () => {
    td = await startTemporald(['--log-level', 'info']);
    c = client(td.port);
  });
  after(async () => {
    c?.close();
    assert.equal(await td?.stop('SIGTERM'), 0);
  });

  test('a 65,536-character query: INVALID_ARGUMENT at once, message cut to 4 KiB', async () => {
    const req = Buffer.concat([lenField(1, Buffer.from('default')), lenField(4, Buffer.from('a'.repeat(65536)))]);
    const t0 = Date.now();
    await assert.rejects(rawCall(c, `${WS}/ListWorkflowExecutions`, req, { deadlineMs: 60000 }), (e) => {
      assert.equal(e.code, S.INVALID_ARGUMENT, `${e.code} ${e.details?.slice(0, 200)}`);
      assert.ok(e.details.length <= 4096, `message of ${e.details.length} bytes`);
      assert.match(e.details, /truncated\)$/);
      return true;
    });
    // Answered well before the deadline (the call used to hang until it).
    assert.ok(Date.now() - t0 < 30000);
    // The connection still serves other calls.
    const ok = Buffer.concat([lenField(1, Buffer.from('default'))]);
    await rawCall(c, `${WS}/DescribeNamespace`, ok, { deadlineMs: 10000 });
  });

  test('invalid UTF-8 in string fields: INVALID_ARGUMENT naming the field, on any method', async () => {
    const bad = Buffer.from([0x61, 0xff, 0x62]);
    const cases = [
      ['DescribeNamespace', lenField(1, bad), /DescribeNamespaceRequest\.namespace contains invalid UTF-8/],
      [
        'ListWorkflowExecutions',
        Buffer.concat([lenField(1, Buffer.from('default')), lenField(4, Buffer.from([0x57, 0xc3, 0x28]))]),
        /ListWorkflowExecutionsRequest\.query contains invalid UTF-8/,
      ],
      [
        'PollWorkflowTaskQueue',
        Buffer.concat([lenField(1, Buffer.from('default')), lenField(2, lenField(1, Buffer.from([0xed, 0xa0, 0x80])))]),
        /temporal\.api\.taskqueue\.v1\.TaskQueue\.name contains invalid UTF-8/,
      ],
      [
        'DescribeWorkflowExecution',
        Buffer.concat([lenField(1, Buffer.from('default')), lenField(2, lenField(1, Buffer.from([0xc0, 0xaf])))]),
        /WorkflowExecution\.workflow_id contains invalid UTF-8/,
      ],
    ];
    for (const [method, req, re] of cases) {
      await assert.rejects(rawCall(c, `${WS}/${method}`, req, { deadlineMs: 10000 }), (e) => {
        assert.equal(e.code, S.INVALID_ARGUMENT, `${method}: ${e.code} ${e.details}`);
        assert.match(e.details, re);
        return true;
      });
    }
    // Valid multi-byte text passes the check (the namespace is then simply unknown).
    await assert.rejects(rawCall(c, `${WS}/DescribeNamespace`, lenField(1, Buffer.from('名前空間')), { deadlineMs: 10000 }), (e) => e.code === S.NOT_FOUND);
  });

  test('UNIMPLEMENTED calls are logged once with method, namespace and code', async () => {
    const path = `${WS}/NoSuchMethodForTheLog`;
    const md = new grpc.Metadata();
    md.set('temporal-namespace', 'default');
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        new Promise((resolve, reject) =>
          c.makeUnaryRequest(path, (b) => b, (b) => b, Buffer.alloc(0), md, {}, (err, r) => (err ? reject(err) : resolve(r))),
        ),
        (e) => e.code === S.UNIMPLEMENTED,
      );
    }
    const re = new RegExp(`call ${path.replace(/\./g, '\\.')} namespace="default" answered UNIMPLEMENTED`, 'g');
    assert.ok(await waitFor(() => (td.stderr().match(re) ?? []).length === 1), td.stderr().slice(-2000));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((td.stderr().match(re) ?? []).length, 1, 'rate-limited: one line for three calls');
  });
});
