"""A stand-in for the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI).

Serves {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} on 127.0.0.1 so that tests of
`aws.s3.use_instance_profile` never contact a link-local metadata address.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CredentialsServer:
    def __init__(self, access_key: str, secret_key: str, token: str = "test-session-token") -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.token = token
        self.requests = 0
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server_self.requests += 1
                if self.path != "/creds":
                    self.send_error(404)
                    return
                expiration = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
                body = json.dumps({
                    "AccessKeyId": server_self.access_key,
                    "SecretAccessKey": server_self.secret_key,
                    "Token": server_self.token,
                    "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep test output clean

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/creds"

    def __enter__(self) -> CredentialsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
