#!/usr/bin/env python3
"""A loopback HTTP endpoint for the monitoring tests: it records every request (method, path,
query, headers, body) as a JSON line in LOG, and answers by the path's first segment:
/ok/... 200; /status500/... always 500; /flakyN/... 500 for the first N requests to that path,
then 200; /hang/... never answers (holds the connection). It prints its port on stdout."""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

LOG = sys.argv[1]
lock = threading.Lock()
seen = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        parts = urlsplit(self.path)
        with lock:
            seen[parts.path] = seen.get(parts.path, 0) + 1
            count = seen[parts.path]
            with open(LOG, "a") as f:
                f.write(json.dumps({"method": self.command, "path": parts.path, "query": parts.query,
                                    "headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": body, "time": time.time()}) + "\n")
        mode = parts.path.split("/")[1] if parts.path.count("/") >= 1 else "ok"
        if mode == "hang":
            time.sleep(3600)
            return
        status = 200
        if mode == "status500":
            status = 500
        elif mode.startswith("flaky"):
            status = 500 if count <= int(mode[5:] or "1") else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    do_GET = do_POST = do_HEAD = do_PUT = handle_any

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
