"""Debian's ``git http-backend`` as CGI behind a small threaded HTTP server.

This is the real git smart-HTTP server (protocol v0 and v2, filters, allowAnySHA1InWant
as configured in the served repositories), optionally behind HTTP basic auth.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit


def _git_core() -> str:
    exec_path = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(exec_path, "git-http-backend")


class GitHttpServer:
    """Serves every bare repository under ``root`` at ``http://127.0.0.1:PORT/NAME``."""

    def __init__(self, root: Path, auth: Optional[tuple[str, str]] = None, protocol_v2: bool = True) -> None:
        self.root = Path(root)
        self.auth = auth
        self.protocol_v2 = protocol_v2
        self.requests: list[str] = []
        self.bytes_sent = 0
        backend = _git_core()
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _authorised(self) -> bool:
                if server_self.auth is None:
                    return True
                header = self.headers.get("Authorization", "")
                expected = "Basic " + base64.b64encode(":".join(server_self.auth).encode()).decode()
                return header == expected

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                server_self.requests.append(f"{self.command} {self.path}")
                body = self._body() if self.command == "POST" else b""
                if not self._authorised():
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                parts = urlsplit(self.path)
                env = {
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GIT_PROJECT_ROOT": str(server_self.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "REQUEST_METHOD": self.command,
                    "PATH_INFO": parts.path,
                    "QUERY_STRING": parts.query,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "REMOTE_ADDR": "127.0.0.1",
                    "REMOTE_USER": server_self.auth[0] if server_self.auth else "",
                    "GIT_CONFIG_NOSYSTEM": "1",
                    "HOME": str(server_self.root),
                }
                if self.headers.get("Git-Protocol") and server_self.protocol_v2:
                    env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
                if self.headers.get("Content-Encoding"):
                    env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
                proc = subprocess.Popen([backend], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(body)
                proc.stdin.close()
                status = 200
                headers = []
                while True:  # the CGI headers, up to an empty line
                    line = proc.stdout.readline().decode("latin-1").rstrip("\r\n")
                    if not line:
                        break
                    key, _, value = line.partition(":")
                    if key.lower() == "status":
                        status = int(value.strip().split()[0])
                    else:
                        headers.append((key, value.strip()))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while chunk := proc.stdout.read1(1 << 16):  # streamed as git produces it
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    server_self.bytes_sent += len(chunk)
                self.wfile.write(b"0\r\n\r\n")
                proc.wait()

            do_GET = _handle
            do_POST = _handle

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                import sys

                if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
                    super().handle_error(request, client_address)  # type: ignore[arg-type]

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> "GitHttpServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def git_available() -> bool:
    return shutil.which("git") is not None
