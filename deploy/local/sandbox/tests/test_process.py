"""`python -m provider_sandbox` as `make up` and the end-to-end tests start it: its port and
seeded accounts from the environment, the endpoints the scripts wait for."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from twilio.rest import Client

SID, TOKEN = "AC" + "0123456789abcdef" * 2, "process-token"


@pytest.fixture
def process_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SANDBOX_PORT": str(port), "SANDBOX_TWILIO_ACCOUNTS": f"{SID}:{TOKEN}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "provider_sandbox"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the sandbox did not answer /readyz in 30 s"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_the_process_serves_the_seeded_account_to_the_sdk(process_url):
    client = Client(SID, TOKEN)
    client.api.base_url = process_url

    client.incoming_phone_numbers.create(phone_number="+14155550100")
    sent = client.messages.create(to="+14155550199", from_="+14155550100", body="hi")

    assert sent.status == "queued"
    assert httpx.get(f"{process_url}/healthz").json() == {"status": "ok"}
    assert 'direction="outbound-api"} 1' in httpx.get(f"{process_url}/metrics").text
    assert httpx.delete(f"{process_url}/sandbox/twilio").json()["accounts"] == [SID]
