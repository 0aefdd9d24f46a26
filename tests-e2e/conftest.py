"""End-to-end fixtures: the real Kafka and MongoDB-wire server (started by our own scripts, or the
ones KAFKA_BOOTSTRAP_SERVERS / MONGO_URI name), and the five services as real OS processes.

The services under test get their own ports (18080-18084), consumer groups (suffix -e2e) and
database (a fresh one per run), so a developer's `make up` stack and its data stay untouched.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / ".run" / "e2e"
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/")
ADMIN_TOKEN = "e2e-admin-token"

SERVICES = {
    "trigger-gateway": ("trigger_gateway", "GATEWAY", 18080),
    "executor": ("executor", "EXECUTOR", 18081),
    "scheduler": ("scheduler", "SCHEDULER", 18082),
    "integrations": ("integrations", "INTEGRATIONS", 18083),
    "notifier": ("notifier", "NOTIFIER", 18084),
}


@dataclass
class Stack:
    """The running system under test."""

    gateway_url: str
    database: str
    kafka: str
    mongo_uri: str
    processes: dict[str, subprocess.Popen[bytes]]
    env: dict[str, str]

    def log_of(self, name: str) -> str:
        return (RUN / f"{name}.log").read_text(errors="replace")

    def start(self, name: str) -> None:
        """Start (or restart) one service and wait until it is healthy."""
        module, _prefix, port = SERVICES[name]
        log = (RUN / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", module], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        _wait_healthy(name, port, self)

    def kill(self, name: str) -> None:
        """kill -9: no chance to commit, flush or say goodbye."""
        process = self.processes.pop(name)
        process.kill()
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()


def _wait_healthy(name: str, port: int, stack: Stack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process = stack.processes[name]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{stack.log_of(name)}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} not healthy after {timeout}s:\n{stack.log_of(name)[-4000:]}")


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[None]:
    """Kafka and the MongoDB-wire server, up with topics created (idempotent).

    One end-to-end session at a time on a machine (they share ports and consumer groups):
    `make test` holds /tmp/connectflo-e2e.lock already; a bare `pytest tests-e2e` takes it."""
    with open("/tmp/connectflo-e2e.lock", "w") as lock:
        if not os.environ.get("CONNECTFLO_E2E_LOCKED"):
            fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run([str(REPO / "deploy/local/infra.sh"), "start"], check=True)
        yield


@pytest.fixture(scope="session")
def stack(infrastructure: None) -> Iterator[Stack]:
    RUN.mkdir(parents=True, exist_ok=True)
    for log in RUN.glob("*.log"):
        log.unlink()
    database = "e2e_" + secrets.token_hex(4)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "MONGO_URI": MONGO,
        "MONGO_DATABASE": database,
        "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "GATEWAY_EXECUTOR_URL": f"http://127.0.0.1:{SERVICES['executor'][2]}",
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{SERVICES['trigger-gateway'][2]}",
    }
    for module, prefix, port in SERVICES.values():
        env[f"{prefix}_PORT"] = str(port)
        if module != "trigger_gateway":
            env[f"{prefix}_GROUP_ID"] = f"connectflo-{module}-e2e"
    stack = Stack(
        gateway_url=f"http://127.0.0.1:{SERVICES['trigger-gateway'][2]}",
        database=database,
        kafka=KAFKA,
        mongo_uri=MONGO,
        processes={},
        env=env,
    )
    try:
        for name in ("executor", "notifier", "scheduler", "integrations", "trigger-gateway"):
            stack.start(name)
        yield stack
    finally:
        stack.stop_all()
        MongoClient(MONGO).drop_database(database)


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture
def mongo(stack: Stack) -> Iterator[object]:
    client: MongoClient[dict[str, object]] = MongoClient(stack.mongo_uri, tz_aware=True)
    try:
        yield client[stack.database]
    finally:
        client.close()


@dataclass
class Tenant:
    tenant_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture
async def tenant(http: httpx.AsyncClient) -> Tenant:
    response = await http.post(
        "/v1/tenants", json={"name": "Acme support"}, headers={"X-Admin-Token": ADMIN_TOKEN}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return Tenant(body["tenant_id"], body["api_key"])
