"""An HTTP proxy that injects faults into the responses of a real server.

Each request to a path containing ``match`` takes the next action from ``faults``
(then passes through): "reset" (connection reset mid-body), "truncate" (a body
shorter than its Content-Length), "502"/"503"/"429" (an error answer; 429 and 503
carry Retry-After: 1), "slow" (the body trickles in small pieces).
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional


class FaultProxy:
    def __init__(self, upstream_port: int, faults: list[str], match: str = "git-upload-pack", forever: Optional[str] = None) -> None:
        self.faults = list(faults)
        self.forever = forever
        self.match = match
        self.log: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                fault = None
                if proxy.match in self.path and self.command == "POST":
                    fault = proxy.faults.pop(0) if proxy.faults else proxy.forever
                proxy.log.append(f"{self.command} {self.path} {fault or 'pass'}")
                if fault in ("502", "503", "429"):
                    self.send_response(int(fault))
                    if fault != "502":
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "transfer-encoding")}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
                upstream.close()
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if fault == "reset":
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                elif fault == "truncate":
                    self.wfile.write(payload[: len(payload) * 2 // 3])
                    self.wfile.flush()
                    self.close_connection = True
                elif fault == "slow":
                    for i in range(0, len(payload), 512):
                        self.wfile.write(payload[i : i + 512])
                        self.wfile.flush()
                        time.sleep(0.002)
                else:
                    self.wfile.write(payload)

            do_GET = _handle
            do_POST = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> "FaultProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
