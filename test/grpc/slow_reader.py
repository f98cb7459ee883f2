#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Backpressure check for temporald's gRPC server: a peer that never reads (and never opens
its flow-control windows) sends 300 requests for 1 MiB responses on one connection; the
server must not build up 300 MiB of answers. Starts test/progs/grpc_testserver itself (path
in argv[1]); prints TAP lines and "N passed, N failed"."""
import os
import signal
import socket
import struct
import subprocess
import sys
import time


def frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def literal(name, value):
    # HPACK literal header field without indexing, new name, no Huffman (lengths < 127)
    return bytes([0, len(name)]) + name + bytes([len(value)]) + value


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
    srv = subprocess.Popen([sys.argv[1], "--port", "0"], stdout=subprocess.PIPE)
    port = int(srv.stdout.readline().split()[1])
    results = []
    try:
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b""))
        body = b"\x12\x07" + b"1048576"  # Payload.data = "1048576"
        msg = b"\x00" + struct.pack(">I", len(body)) + body
        n = 300
        for i in range(n):
            sid = 1 + 2 * i
            hdr = (literal(b":method", b"POST") + literal(b":scheme", b"http") +
                   literal(b":path", b"/temporald.test.Test/Big") + literal(b":authority", b"x") +
                   literal(b"content-type", b"application/grpc") + literal(b"te", b"trailers"))
            s.sendall(frame(1, 4, sid, hdr) + frame(0, 1, sid, msg))
        time.sleep(2)
        rss = rss_kb(srv.pid)
        ok = 0 < rss < 150 * 1024
        results.append((ok, f"{n} x 1 MiB answers to a peer that does not read: server RSS {rss // 1024} MiB (< 150)"))
        alive = srv.poll() is None
        results.append((alive, "server still running"))
        s.close()
        time.sleep(0.3)
        srv.send_signal(signal.SIGTERM)
        code = srv.wait(timeout=10)
        results.append((code == 0, f"server drained and exited 0 after the peer left (exit {code})"))
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    fails = 0
    for i, (ok, name) in enumerate(results, 1):
        print(("ok" if ok else "not ok") + f" {i} - {name}")
        fails += 0 if ok else 1
    print(f"{len(results) - fails} passed, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
