// SPDX-License-Identifier: Apache-2.0
// Shared helpers of the gRPC suite: start temporald's test server (or temporald itself) on a
// free port, build @grpc/grpc-js clients for the /temporald.test.Test/ methods, encode and
// decode the public protos from build/api/protos, and make throwaway TLS certificates.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const root = path.resolve(process.env.TD_ROOT ?? path.join(import.meta.dirname, '..', '..', '..'));
const build = path.resolve(root, process.env.BUILD ?? 'build/release');
export const testServerBin = process.env.TD_TESTSERVER ?? path.join(build, 'progs', 'grpc_testserver');
export const temporaldBin = process.env.TD_BIN ? path.resolve(process.env.TD_BIN) : path.join(build, 'temporald');
const protos = path.join(root, 'build', 'api', 'protos');

const pb = new protobuf.Root();
pb.resolvePath = (_origin, target) => {
  for (const dir of [path.join(protos, 'api_upstream'), protos]) {
    const p = path.join(dir, target);
    try {
      readFileSync(p);
      return p;
    } catch {
      /* next */
    }
  }
  return target;
};
pb.loadSync(
  [
    'temporal/api/common/v1/message.proto',
    'temporal/api/errordetails/v1/message.proto',
    'google/rpc/status.proto',
    'grpc/health/v1/health.proto',
  ],
  { keepCase: true },
);
export const Payload = pb.lookupType('temporal.api.common.v1.Payload');
export const RpcStatus = pb.lookupType('google.rpc.Status');
export const NamespaceNotFoundFailure = pb.lookupType('temporal.api.errordetails.v1.NamespaceNotFoundFailure');
export const HealthCheckRequest = pb.lookupType('grpc.health.v1.HealthCheckRequest');
export const HealthCheckResponse = pb.lookupType('grpc.health.v1.HealthCheckResponse');

// Starts a process that prints a line matching re with the port; resolves { proc, port, stop }.
function startProc(bin, args, re) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${bin} did not start: ${out} ${err}`)), 10000);
    proc.stderr.on('data', (d) => (err += d));
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(re);
      if (m) {
        clearTimeout(timer);
        resolve({
          proc,
          port: Number(m[1]),
          stderr: () => err,
          stop: (sig = 'SIGKILL') =>
            new Promise((res) => {
              if (proc.exitCode !== null || proc.signalCode !== null) return res(proc.exitCode);
              proc.once('exit', (code) => res(code));
              proc.kill(sig);
            }),
        });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited ${code}: ${err}`));
    });
  });
}

export function startTestServer(args = []) {
  return startProc(testServerBin, args, /port (\d+)/);
}

// temporald start-dev on a free port (the kernel picks it: we pass a port found free now).
export async function startTemporald(extraArgs = []) {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'td-grpc-'));
  const s = await startProc(
    temporaldBin,
    ['start-dev', '--port', String(port), '--ip', '127.0.0.1', '--headless', '--log-level', 'warn',
      '--db-filename', path.join(dir, 'dev.db'), ...extraArgs],
    /listening on [0-9.]+:(\d+)/,
  );
  const stop = s.stop;
  s.stop = async (sig) => {
    const code = await stop(sig);
    rmSync(dir, { recursive: true, force: true });
    return code;
  };
  return s;
}

export async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const ser = (obj) => Buffer.from(Payload.encode(Payload.fromObject(obj)).finish());
const de = (buf) => Payload.decode(buf);

export function client(port, opts = {}, creds = grpc.credentials.createInsecure()) {
  return new grpc.Client(`127.0.0.1:${port}`, creds, opts);
}

// Unary call to /temporald.test.Test/<method> with a Payload; resolves { resp, md } or rejects
// with the grpc-js ServiceError.
export function call(c, method, payload = {}, { deadlineMs, metadata, onCall } = {}) {
  return new Promise((resolve, reject) => {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(metadata ?? {})) md.set(k, v);
    const options = deadlineMs ? { deadline: new Date(Date.now() + deadlineMs) } : {};
    const call = c.makeUnaryRequest(`/temporald.test.Test/${method}`, ser, de, payload, md, options, (err, resp) =>
      err ? reject(err) : resolve({ resp }),
    );
    if (onCall) onCall(call);
  });
}

export function rawCall(c, fullPath, bytes, { deadlineMs } = {}) {
  return new Promise((resolve, reject) => {
    const options = deadlineMs ? { deadline: new Date(Date.now() + deadlineMs) } : {};
    c.makeUnaryRequest(fullPath, (b) => b, (b) => b, bytes, new grpc.Metadata(), options, (err, resp) =>
      err ? reject(err) : resolve(resp),
    );
  });
}

export function mdValue(p, key) {
  const v = p.metadata?.[key];
  return v === undefined ? undefined : Buffer.from(v).toString();
}

export async function stats(c) {
  const { resp } = await call(c, 'Stats');
  const o = {};
  for (const k of Object.keys(resp.metadata)) o[k] = Number(Buffer.from(resp.metadata[k]).toString());
  return o;
}

export async function waitFor(fn, ms = 3000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

// A CA, a server certificate for 127.0.0.1/localhost and a client certificate, via openssl.
export function makeCerts() {
  const dir = mkdtempSync(path.join(tmpdir(), 'td-certs-'));
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=temporald test CA');
  const leaf = (name, ext) => {
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    execFileSync('sh', ['-c', `printf '%s\n' '${ext}' > ${name}.ext`], { cwd: dir });
    run('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out',
      `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  leaf('server', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
  leaf('client', 'extendedKeyUsage=clientAuth');
  const f = (n) => path.join(dir, n);
  return {
    dir,
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
