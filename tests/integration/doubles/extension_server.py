#!/usr/bin/env python3
"""A registry with the signature extension API, for tests.

Proxies every request to a real registry (docker-registry on loopback) and
adds the endpoints of OpenShift's integrated registry
(openshift/image-registry pkg/dockerregistry/server/signaturedispatcher.go):

  GET  /extensions/v2/<name>/signatures/<digest>
       200 {"signatures":[{"schemaVersion":2,"name":…,"type":…,"content":…}]}
       ({"signatures":[]} when there are none); 404 with an empty body when
       the image is unknown; 400 NAME_INVALID without a valid digest.
  PUT  /extensions/v2/<name>/signatures/<digest>
       body {"schemaVersion":2,"name":"sha256:…@<id>","type":"atomic","content":"<b64>"}
       (an empty type defaults to "AtomicImageV1")
       201 with an empty body; 400 SIGNATURE_INVALID (bad JSON, schemaVersion
       other than 2, name not <digest>@<id>, missing content); 409
       SIGNATURE_EXISTS (that name exists); 404 with an empty body (image
       unknown).

Every response carries `X-Registry-Supports-Signatures: 1`.

Signatures are kept in memory, or with --store DIR in DIR/<repo>/<digest>.json.
With --fail-puts N the first N signature PUTs answer 500 and store nothing
(store-fault tests).

Usage: extension_server.py --upstream 127.0.0.1:PORT [--port P] [--store DIR]
Prints "listening on PORT" on stdout once ready. Python 3 standard library only.
"""

import argparse
import base64
import binascii
import http.client
import http.server
import json
import os
import re
import sys
import threading

EXT = re.compile(r"^/extensions/v2/(?P<name>.+)/signatures/(?P<digest>[^/]*)$")
DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade", "content-length",
}


class Store:
    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()
        self.memory = {}

    def _path(self, name, digest):
        return os.path.join(self.directory, name, digest.replace(":", "=") + ".json")

    def get(self, name, digest):
        if self.directory is None:
            return list(self.memory.get((name, digest), []))
        try:
            with open(self._path(name, digest), "rb") as f:
                return json.load(f)
        except FileNotFoundError:
            return []

    def add(self, name, digest, entry):
        """Adds entry; False if its name exists."""
        with self.lock:
            entries = self.get(name, digest)
            if any(e["name"] == entry["name"] for e in entries):
                return False
            entries.append(entry)
            if self.directory is None:
                self.memory[(name, digest)] = entries
            else:
                path = self._path(name, digest)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                tmp = path + ".tmp"
                with open(tmp, "w") as f:
                    json.dump(entries, f)
                os.replace(tmp, path)
            return True


def distribution_error(code, message):
    return json.dumps({"errors": [{"code": code, "message": message, "detail": None}]}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "extension-double/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    # -- plumbing ----------------------------------------------------------

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers up to the empty line
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline(3)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        self.send_header("X-Registry-Supports-Signatures", "1")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def upstream(self, method, path, body=None, headers=()):
        """One request upstream; headers is a list of pairs (repeated names,
        such as skopeo's several Accept lines, are kept)."""
        conn = http.client.HTTPConnection(self.server.upstream, timeout=60)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            names = set()
            for k, v in headers:
                conn.putheader(k, v)
                names.add(k.lower())
            if "host" not in names:
                conn.putheader("Host", self.server.upstream)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            resp = conn.getresponse()
            data = resp.read() if method != "HEAD" else b""
            return resp.status, resp.getheaders(), data
        finally:
            conn.close()

    def image_exists(self, name, digest):
        status, _, _ = self.upstream(
            "HEAD",
            "/v2/%s/manifests/%s" % (name, digest),
            headers=[
                ("Accept", ", ".join([
                    "application/vnd.oci.image.manifest.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v1+prettyjws",
                ])),
            ] + [("Authorization", v) for k, v in self.headers.items() if k.lower() == "authorization"],
        )
        return status == 200

    def proxy(self):
        body = self.read_body() if self.command in ("POST", "PUT", "PATCH") else None
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP]
        try:
            status, resp_headers, data = self.upstream(self.command, self.path, body, headers)
        except OSError as e:
            self.reply(502, str(e).encode())
            return
        kept = [(k, v) for k, v in resp_headers if k.lower() not in HOP]
        self.send_response(status)
        self.send_header("X-Registry-Supports-Signatures", "1")
        for k, v in kept:
            self.send_header(k, v)
        if self.command == "HEAD":
            length = dict((k.lower(), v) for k, v in resp_headers).get("content-length", "0")
            self.send_header("Content-Length", length)
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- the extension -----------------------------------------------------

    def extension(self, m):
        name, digest = m.group("name"), m.group("digest")
        if not DIGEST.match(digest):
            self.read_body()
            self.reply(400, distribution_error("NAME_INVALID", "invalid repository name"),
                       [("Content-Type", "application/json; charset=utf-8")])
            return
        if self.command == "GET":
            if not self.image_exists(name, digest):
                self.reply(404)
                return
            body = json.dumps({"signatures": self.server.store.get(name, digest)}).encode()
            self.reply(200, body, [("Content-Type", "application/json; charset=utf-8")])
            return
        if self.command != "PUT":
            self.reply(405)
            return
        raw = self.read_body()
        invalid = lambda msg: self.reply(  # noqa: E731
            400, distribution_error("SIGNATURE_INVALID", msg),
            [("Content-Type", "application/json; charset=utf-8")])
        try:
            sig = json.loads(raw)
            if not isinstance(sig, dict):
                raise ValueError("not an object")
        except ValueError as e:
            invalid("invalid signature format: %s" % e)
            return
        if sig.get("schemaVersion") != 2:
            invalid("invalid schema version %r" % sig.get("schemaVersion"))
            return
        sig_name = sig.get("name") or ""
        image, _, sig_id = sig_name.partition("@")
        if image != digest or not sig_id:
            invalid("name %r is not <image name>@<signature name>" % sig_name)
            return
        content = sig.get("content")
        try:
            if not isinstance(content, str) or not content:
                raise ValueError("content is required")
            base64.b64decode(content, validate=True)
        except (ValueError, binascii.Error) as e:
            invalid("invalid signature content: %s" % e)
            return
        with self.server.fault_lock:
            if self.server.fail_puts > 0:
                self.server.fail_puts -= 1
                self.reply(500, distribution_error("UNKNOWN", "injected fault"),
                           [("Content-Type", "application/json; charset=utf-8")])
                return
        if not self.image_exists(name, digest):
            self.reply(404)
            return
        entry = {
            "schemaVersion": 2,
            "name": sig_name,
            "type": sig.get("type") or "AtomicImageV1",
            "content": content,
        }
        if not self.server.store.add(name, digest, entry):
            self.reply(409, distribution_error("SIGNATURE_EXISTS", "signature already exists"),
                       [("Content-Type", "application/json; charset=utf-8")])
            return
        self.reply(201)

    def handle_any(self):
        m = EXT.match(self.path.split("?", 1)[0])
        if m:
            self.extension(m)
        else:
            self.proxy()

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--upstream", required=True, help="HOST:PORT of the real registry")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--store", help="keep signatures in this directory")
    p.add_argument("--fail-puts", type=int, default=0)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    server.upstream = a.upstream
    server.store = Store(a.store)
    server.fail_puts = a.fail_puts
    server.fault_lock = threading.Lock()
    server.verbose = a.verbose
    print("listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
