"""A stand-in for a tenant's system on 127.0.0.1: answers by path, records what it received."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class FakeSystem:
    base_url: str
    received: list[dict[str, Any]] = field(default_factory=list)


def _handler(system: FakeSystem) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            system.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
            action = self.path.rsplit("/", 1)[-1]
            if action == "slow":
                time.sleep(1.0)
            status, answer = {
                "getOrder": (200, {"name": "#1042", "params": body["params"]}),
                "missing": (404, {"message": "no such order"}),
                "broken": (503, "maintenance"),
                "notJson": (200, "<html>"),
                "aList": (200, [1, 2]),
                "huge": (200, {"blob": "x" * 5000}),
                "empty": (204, None),
                "slow": (200, {}),
            }.get(action, (400, {"error": f"unknown action {action}"}))
            raw = (
                b""
                if answer is None
                else (answer.encode() if isinstance(answer, str) else json.dumps(answer).encode())
            )
            self.send_response(status)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler


@pytest.fixture
def fake_system() -> Iterator[FakeSystem]:
    system = FakeSystem(base_url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(system))
    system.base_url = f"http://127.0.0.1:{server.server_address[1]}/api"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield system
    finally:
        server.shutdown()
        server.server_close()
