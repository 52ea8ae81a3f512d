#!/usr/bin/env python3
"""A static lookaside web server that also accepts PUT, for tests.

GET /PATH   200 with the file under ROOT, 404 when absent.
PUT /PATH   stores the body under ROOT/PATH (parents created), 201; with
            `If-None-Match: *` the creation is exclusive: 412 when the file
            exists (RFC 9110 §13.1.2), so concurrent writers cannot overwrite
            each other.

Usage: put_server.py ROOT [--port P]; prints "listening on PORT" when ready.
Python 3 standard library only.
"""

import argparse
import http.server
import os
import posixpath
import sys
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def target(self):
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        parts = [p for p in posixpath.normpath(path).split("/") if p not in ("", ".", "..")]
        return os.path.join(self.server.root, *parts)

    def reply(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def do_GET(self):
        try:
            with open(self.target(), "rb") as f:
                self.reply(200, f.read())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            self.reply(404)

    do_HEAD = do_GET

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.target()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        exclusive = self.headers.get("If-None-Match", "").strip() == "*"
        tmp = "%s.tmp-%d-%d" % (path, os.getpid(), id(self))
        with open(tmp, "wb") as f:
            f.write(body)
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                os.unlink(tmp)
                self.reply(412)
                return
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
        self.reply(201)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    server.root = os.path.abspath(a.root)
    print("listening on %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
