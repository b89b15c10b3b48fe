#!/usr/bin/env python3
"""Test upstream for the proxy integration tests.

Prints its port on stdout, then serves HTTP/1.1 with keep-alive:
  /status/N      respond with status N
  /delay/MS      sleep MS milliseconds, then 200
  /bytes/N       N bytes of 'x' (chunked with ?chunked=1)
  /upgrade       101 Switching Protocols, then echo raw bytes
  /hang          read the request, never answer (until the process stops)
  /close-early   read the request, close without answering
  /close-mid     200 announcing 100000 bytes, send 1000, then close
  /__requests    JSON list of "host path" seen so far
  ?fail_every=NAME:K   the upstream called NAME answers 500 to every Kth such request
  --fail         answer 500 to everything
  anything else  200 with a JSON echo of method, path, headers, body length
Every response carries x-upstream: NAME. Stops on stdin EOF.
"""
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = sys.argv[sys.argv.index("--name") + 1] if "--name" in sys.argv else "upstream"
FAIL = "--fail" in sys.argv  # every request gets a 500
SEEN = []
SEEN_LOCK = threading.Lock()
FAIL_EVERY_SEEN = [0]  # requests that carried fail_every=NAME:K for this upstream


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms
    # to every keep-alive response.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            total = 0
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return total
                remaining = size
                while remaining:
                    remaining -= len(self.rfile.read(min(remaining, 1 << 16)))
                total += size
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", "0"))
        remaining = length
        while remaining:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)
        return length

    def _send(self, status, body=b"", headers=None):
        self.send_response(status)
        self.send_header("x-upstream", NAME)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        body_len = self._body()
        path = self.path
        if path == "/__requests":
            with SEEN_LOCK:
                data = json.dumps(SEEN).encode()
            self._send(200, data)
            return
        with SEEN_LOCK:
            SEEN.append("%s %s" % (self.headers.get("Host", ""), path))
        if FAIL:
            self._send(500, b"failing\n")
            return
        m = re.search(r"fail_every=([^:&]+):(\d+)", path)
        if m and m.group(1) == NAME:
            with SEEN_LOCK:
                FAIL_EVERY_SEEN[0] += 1
                fail = FAIL_EVERY_SEEN[0] % int(m.group(2)) == 0
            if fail:
                self._send(500, b"failing this one\n")
                return
        if path.startswith("/status/"):
            self._send(int(path.split("/")[2].split("?")[0]), b"status\n")
        elif path.startswith("/delay/"):
            time.sleep(int(path.split("/")[2].split("?")[0]) / 1000.0)
            self._send(200, b"delayed\n")
        elif path.startswith("/bytes/"):
            n = int(path.split("/")[2].split("?")[0])
            if "chunked=1" in path:
                self.send_response(200)
                self.send_header("x-upstream", NAME)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                block = b"x" * 65536
                left = n
                while left:
                    part = block[: min(left, len(block))]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    left -= len(part)
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.send_response(200)
                self.send_header("x-upstream", NAME)
                self.send_header("Content-Length", str(n))
                self.end_headers()
                block = b"x" * 65536
                left = n
                while left:
                    part = block[: min(left, len(block))]
                    self.wfile.write(part)
                    left -= len(part)
        elif path.startswith("/hang"):
            time.sleep(3600)
        elif path.startswith("/close-early"):
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif path.startswith("/close-mid"):
            self.send_response(200)
            self.send_header("x-upstream", NAME)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif path.startswith("/upgrade"):
            self.send_response(101)
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", self.headers.get("Upgrade", "websocket"))
            self.end_headers()
            self.wfile.flush()
            conn = self.connection
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
            self.close_connection = True
        else:
            echo = {
                "upstream": NAME,
                "method": self.command,
                "path": path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_length": body_len,
            }
            self._send(200, json.dumps(echo).encode() + b"\n", {"Content-Type": "application/json"})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()


if __name__ == "__main__":
    main()
