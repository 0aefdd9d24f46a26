"""servicekit.processes: a service started as a process is ready when /readyz answers; one that
dies while starting says why (its log's tail), never a bare timeout."""

import socket
import sys
import textwrap

import pytest
from servicekit.processes import StartFailed, start_service, stop_services

READY = textwrap.dedent(
    """
    import http.server, sys
    class Ready(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/readyz" else 404)
            self.end_headers()
        def log_message(self, *args):
            pass
    print("serving", flush=True)
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Ready).serve_forever()
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_service_is_started_and_waited_for_until_ready(tmp_path):
    port = free_port()
    log = tmp_path / "ready.log"
    command = [sys.executable, "-c", READY, str(port)]

    process = start_service("ready", {}, port, log, command=command)

    assert process.poll() is None
    stop_services([process])
    assert process.poll() is not None
    assert "serving" in log.read_text()


def test_a_service_that_dies_while_starting_says_why(tmp_path):
    command = [sys.executable, "-c", "import sys; print('no MONGO_URI'); sys.exit(3)"]

    with pytest.raises(StartFailed, match=r"(?s)broken exited with 3 while starting.*no MONGO_URI"):
        start_service("broken", {}, free_port(), tmp_path / "broken.log", command=command)


def test_one_never_ready_is_stopped_after_the_timeout(tmp_path):
    command = [sys.executable, "-c", "import time; print('stuck', flush=True); time.sleep(60)"]

    with pytest.raises(StartFailed, match=r"(?s)stuck not ready after 1s.*stuck"):
        start_service("stuck", {}, free_port(), tmp_path / "stuck.log", command=command, timeout=1)
