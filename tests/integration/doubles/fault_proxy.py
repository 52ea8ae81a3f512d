#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for the registry tests (stdlib only).

    fault_proxy.py --listen PORT --upstream PORT --mode MODE --match SUBSTR [--times N]

Forwards every request to the upstream registry on 127.0.0.1. The first N
GET requests whose path contains SUBSTR (N = --times, default 1; -1 = all)
get the fault MODE instead of the plain answer:

  503       answer 503 with a distribution error body
  reset     send the headers and half the body, then reset the connection (RST)
  truncate  send the headers (full Content-Length) and half the body, then close
  slow      send half the body, stall for --stall seconds, then the rest
  corrupt   flip one byte in the middle of the body (same length)

Prints "ready" on stdout once listening. Bounded: it serves only loopback.
"""
import argparse
import http.client
import http.server
import socket
import struct
import sys
import threading
import time

ARGS = None
LOCK = threading.Lock()
REMAINING = {"n": 0}


def take_fault(path):
    if ARGS.match not in path:
        return False
    with LOCK:
        if REMAINING["n"] == 0:
            return False
        if REMAINING["n"] > 0:
            REMAINING["n"] -= 1
        return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection("127.0.0.1", ARGS.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        fault = self.command == "GET" and take_fault(self.path) and ARGS.mode
        if fault == "503":
            payload = b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        half = len(data) // 2
        if fault == "reset":
            self.wfile.write(data[:half])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif fault == "truncate":
            self.wfile.write(data[:half])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif fault == "slow":
            self.wfile.write(data[:half])
            self.wfile.flush()
            time.sleep(ARGS.stall)
            try:
                self.wfile.write(data[half:])
            except OSError:
                pass
        elif fault == "corrupt" and data:
            mutable = bytearray(data)
            mutable[half] ^= 0xFF
            self.wfile.write(bytes(mutable))
        else:
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--upstream", type=int, required=True)
    p.add_argument("--mode", required=True, choices=["503", "reset", "truncate", "slow", "corrupt"])
    p.add_argument("--match", default="/blobs/")
    p.add_argument("--times", type=int, default=1)
    p.add_argument("--stall", type=float, default=3.0)
    ARGS = p.parse_args()
    REMAINING["n"] = ARGS.times
    server = http.server.ThreadingHTTPServer(("127.0.0.1", ARGS.listen), Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
