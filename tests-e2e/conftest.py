"""End-to-end fixtures: the real Kafka and MongoDB-wire server (started by our own scripts, or the
ones KAFKA_BOOTSTRAP_SERVERS / MONGO_URI name), and the five services as real OS processes, with
the provider sandbox (deploy/local/sandbox: Twilio & co., `SANDBOX_URL`) as one more process.
The fixture `prometheus` has the machine's Prometheus (infra.sh) scrape them every second.

The services under test (deploy/services.tsv) get their own ports (the table's + 10,000:
18080-18084, the sandbox 18090), consumer groups (the table's + `-e2e`) and database (a fresh
one per run), so a developer's `make up` stack and its data stay untouched. They export their
spans to the session's trace receiver (tests-e2e/otlp_receiver.py, fixture `trace_receiver`).

A service that dies while a test runs fails that test with the tail of its log (checked while
waiting and after every test), and the next test gets it restarted; a service a test killed on
purpose (`stack.kill`) and did not restart is restarted before the next test too.
"""

from __future__ import annotations

import asyncio
import csv
import fcntl
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from otlp_receiver import TraceReceiver
from pymongo import MongoClient
from servicekit.processes import StartFailed, start_service, stop_services, tail
from servicekit.sealing import KEK_FILE_VARIABLE, KEKS_VARIABLE, dev_key_file

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / ".run" / "e2e"
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/")
ADMIN_TOKEN = "e2e-admin-token"
LOCK_FILE = "/tmp/connectflo-e2e.lock"
PROMETHEUS_URL = f"http://127.0.0.1:{os.environ.get('PROMETHEUS_PORT', '9090')}"

E2E_PORT_OFFSET = 10_000
E2E_GROUP_SUFFIX = "-e2e"
# Consumers in a group of their own (the service's group + a suffix: notifier.handlers.kafka),
# moved to the end of the topics with the others
OWN_GROUPS = {"notifier": ("-delivery-status", "-webhooks-triggers", "-routing")}


@dataclass(frozen=True)
class Service:
    """A row of deploy/services.tsv, on this session's port and in its consumer group."""

    module: str
    prefix: str
    port: int
    group: str | None


def _service_table() -> dict[str, Service]:
    """deploy/services.tsv (tab-separated, a header line, # comments), in its start order."""
    with (REPO / "deploy" / "services.tsv").open(newline="") as table:
        rows = csv.DictReader((line for line in table if not line.startswith("#")), delimiter="\t")
        return {
            row["name"]: Service(
                module=row["module"],
                prefix=row["env_prefix"],
                port=int(row["port"]) + E2E_PORT_OFFSET,
                group=None if row["group"] == "-" else row["group"] + E2E_GROUP_SUFFIX,
            )
            for row in rows
        }


# Started in the table's order: the sandbox, the consumers, the gateway last.
PROCESSES = _service_table()
# The provider sandbox is a process of the stack, not a service of the kit: no Kafka, no MongoDB.
SANDBOX_URL = f"http://127.0.0.1:{PROCESSES['sandbox'].port}"
SERVICES = {name: service for name, service in PROCESSES.items() if name != "sandbox"}


class ServiceDied(AssertionError):
    """A service process exited while nobody asked it to."""


@dataclass
class Stack:
    """The running system under test."""

    gateway_url: str
    database: str
    kafka: str
    mongo_uri: str
    processes: dict[str, subprocess.Popen[bytes]]
    env: dict[str, str]
    _mongo: MongoClient[dict[str, Any]] | None = field(default=None, repr=False)

    def log_of(self, name: str) -> str:
        return (RUN / f"{name}.log").read_text(errors="replace")

    def log_tail(self, name: str, chars: int = 4000) -> str:
        return tail(RUN / f"{name}.log", chars)

    def start(self, name: str) -> None:
        """Start (or restart) one service and wait until it is healthy."""
        module, port = PROCESSES[name].module, PROCESSES[name].port
        log = RUN / f"{name}.log"
        with log.open("ab") as out:
            out.write(f"\n--- e2e: starting {name} at {time.strftime('%H:%M:%S')} ---\n".encode())
        try:
            self.processes[name] = start_service(module, self.env, port, log)
        except StartFailed as failed:
            raise ServiceDied(str(failed)) from None

    def kill(self, name: str) -> None:
        """kill -9: no chance to commit, flush or say goodbye."""
        process = self.processes.pop(name)
        process.kill()
        process.wait(10)

    def assert_alive(self) -> None:
        """ServiceDied with the log tail of every service process that exited on its own."""
        dead = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        if dead:
            raise ServiceDied(
                "\n".join(
                    f"{name} exited unexpectedly with code {code}; last lines of its log:\n"
                    f"{self.log_tail(name)}"
                    for name, code in dead.items()
                )
            )

    def restart_missing(self) -> None:
        """Start every service that is not running (killed by a test, or died)."""
        for name in PROCESSES:
            process = self.processes.get(name)
            if process is None or process.poll() is not None:
                self.start(name)

    def stop_all(self) -> None:
        stop_services(self.processes.values())
        self.processes.clear()
        if self._mongo is not None:
            self._mongo.close()
            self._mongo = None

    @property
    def db(self) -> Any:
        """The database under test (a synchronous pymongo handle owned by the stack)."""
        if self._mongo is None:
            self._mongo = MongoClient(self.mongo_uri, tz_aware=True)
        return self._mongo[self.database]

    def execution_statuses(
        self, *, tenant_id: str | None = None, trigger_ids: Iterable[str] | None = None
    ) -> Counter[str]:
        """How many executions are in each status (fields `status`, `tenant_id`, `trigger_id`)."""
        query: dict[str, Any] = {}
        if tenant_id is not None:
            query["tenant_id"] = tenant_id
        if trigger_ids is not None:
            query["trigger_id"] = {"$in": list(trigger_ids)}
        docs = self.db.executions.find(query, projection={"status": 1})
        return Counter(str(doc.get("status")) for doc in docs)

    async def wait_for_executions(
        self,
        count: int,
        *,
        status: str = "completed",
        tenant_id: str | None = None,
        trigger_ids: Iterable[str] | None = None,
        timeout: float = 120,
        interval: float = 0.25,
    ) -> float:
        """Wait until at least ``count`` executions are in ``status`` (polling MongoDB); the
        seconds it took. Fails at once with the log tail if a service dies meanwhile, and on
        timeout with the counts per status."""
        ids = None if trigger_ids is None else list(trigger_ids)
        started = time.monotonic()
        while True:
            self.assert_alive()
            statuses = await asyncio.to_thread(
                self.execution_statuses, tenant_id=tenant_id, trigger_ids=ids
            )
            if statuses[status] >= count:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError(
                    f"{statuses[status]} of {count} executions {status} after {timeout}s; "
                    f"by status: {dict(statuses)}"
                )
            await asyncio.sleep(interval)


# Our OAuth app with each provider, as the sandbox registers it (tests-e2e/test_oauth.py)
OAUTH_PROVIDERS = ("shopify", "salesforce", "hubspot", "jira", "zendesk")
OAUTH_CLIENT_SECRET = "oauth-client-secret-e2e-1f9c3a7d"  # fixed: conftest may load twice


def oauth_client_id(provider: str) -> str:
    return f"connectflo-e2e-{provider}"


_machine_lock: list[IO[str]] = []


def _take_machine_lock() -> None:
    """One end-to-end session at a time on a machine (they share ports and consumer groups):
    `make test` holds /tmp/connectflo-e2e.lock already; a bare `pytest tests-e2e` takes it and
    keeps it until the session ends. Waiting for it is not part of any test's timeout."""
    if _machine_lock or os.environ.get("CONNECTFLO_E2E_LOCKED"):
        return
    lock = open(LOCK_FILE, "w")  # noqa: SIM115 - held until the session ends
    started = last_said = time.monotonic()
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= last_said:
                print(
                    f"\nwaiting for {LOCK_FILE} ({time.monotonic() - started:.0f}s so far); "
                    "processes with it open (a daemon that inherited it holds it forever):\n  "
                    + "\n  ".join(_lock_file_openers()),
                    flush=True,
                )
                last_said = time.monotonic() + 300
            time.sleep(0.5)
    if time.monotonic() - started > 1:
        print(f"got {LOCK_FILE} after {time.monotonic() - started:.0f}s", flush=True)
    _machine_lock.append(lock)


def _lock_file_openers() -> list[str]:
    """pid and command line of every other process that has the lock file open."""
    target = os.path.realpath(LOCK_FILE)
    openers = []
    for fds in Path("/proc").glob("[0-9]*/fd"):
        if fds.parent.name == str(os.getpid()):
            continue
        try:
            if any(os.readlink(fd) == target for fd in fds.iterdir()):
                command = (fds.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                openers.append(f"{fds.parent.name} {command.decode(errors='replace')[:150]}")
        except OSError:
            continue
    return openers


_infrastructure_started: list[bool] = []


def _infrastructure_up() -> None:
    """Kafka and the MongoDB-wire server, up with topics created (idempotent; the first run
    downloads and builds for minutes, which no test's timeout should count)."""
    _take_machine_lock()
    if not _infrastructure_started:
        subprocess.run([str(REPO / "deploy/local/infra.sh"), "start"], check=True)
        _infrastructure_started.append(True)


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    if any("stack" in getattr(item, "fixturenames", ()) for item in session.items):
        _infrastructure_up()


def pytest_sessionfinish(session: pytest.Session) -> None:
    while _machine_lock:
        _machine_lock.pop().close()  # closing releases the flock


@pytest.fixture(scope="session")
def infrastructure() -> None:
    """Kafka and the MongoDB-wire server, up with topics created, under the machine lock."""
    _infrastructure_up()


@pytest.fixture(scope="session")
def trace_receiver() -> Iterator[TraceReceiver]:
    """Where every service of the session exports its spans (OTLP/HTTP)."""
    receiver = TraceReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="session")
def stack(infrastructure: None, trace_receiver: TraceReceiver) -> Iterator[Stack]:
    RUN.mkdir(parents=True, exist_ok=True)
    for log in RUN.glob("*.log"):
        log.unlink()
    database = "e2e_" + secrets.token_hex(4)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "MONGO_URI": MONGO,
        "MONGO_DATABASE": database,
        "SCHEDULER_SCHEDULE_REFRESH_SECONDS": "1",  # a new schedule is seen within a second
        "SCHEDULER_SLA_SETTLE_SECONDS": "0.5",  # SLA targets of seconds (tests-e2e/test_sla.py)
        "SCHEDULER_SLA_PAUSED_RECHECK_SECONDS": "1",
        "SCHEDULER_SLA_POLICIES_SECONDS": "0.5",
        # the watchdog finds an execution stuck within seconds (test_watchdog.py): 1 s slots,
        # a 3 s lease (nothing in a healthy run goes 3 s without a write but a wait, which
        # has its deadline timer), a scan a second
        "CONNECTFLO_WATCH_BUCKET_SECONDS": "1",
        "SCHEDULER_WATCHDOG_LEASE_SECONDS": "3",
        "SCHEDULER_WATCHDOG_INTERVAL_SECONDS": "1",
        "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "GATEWAY_EXECUTOR_URL": f"http://127.0.0.1:{SERVICES['executor'].port}",
        "GATEWAY_INTEGRATIONS_URL": f"http://127.0.0.1:{SERVICES['integrations'].port}",
        "EXECUTOR_INTEGRATIONS_URL": f"http://127.0.0.1:{SERVICES['integrations'].port}",
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{SERVICES['trigger-gateway'].port}",
        "NOTIFIER_TWILIO_API_BASE_URL": SANDBOX_URL,
        "NOTIFIER_SLACK_API_BASE_URL": SANDBOX_URL + "/api/",
        "NOTIFIER_SENDGRID_API_BASE_URL": SANDBOX_URL,
        "SANDBOX_TWILIO_GATHER_TIMEOUT_SCALE": "1",  # a caller has the Gather's whole timeout
        "NOTIFIER_STATUS_CALLBACK_URL": (
            f"http://127.0.0.1:{SERVICES['trigger-gateway'].port}/webhooks/twilio/status"
        ),
        "OTEL_EXPORTER_OTLP_ENDPOINT": trace_receiver.endpoint,
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": trace_receiver.endpoint + "/v1/traces",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # ms: a test waits for its spans this long at most
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",  # tenants' webhooks to a receiver on 127.0.0.1
        "NOTIFIER_WEBHOOK_RETRY_BASE_SECONDS": "0.3",  # a failed webhook is retried within 0.3 s
        "INTEGRATIONS_OAUTH_REFRESH_LEEWAY_SECONDS": "1",  # tests' access tokens live seconds
        "OPENAI_BASE_URL": SANDBOX_URL + "/openai/v1",  # never the real OpenAI from a test
        **{f"OAUTH_{p.upper()}_CLIENT_ID": oauth_client_id(p) for p in OAUTH_PROVIDERS},
        **{f"OAUTH_{p.upper()}_CLIENT_SECRET": OAUTH_CLIENT_SECRET for p in OAUTH_PROVIDERS},
    }
    if not (env.get(KEKS_VARIABLE) or env.get(KEK_FILE_VARIABLE)):  # sealed secrets' KEK
        env[KEK_FILE_VARIABLE] = str(dev_key_file(REPO / ".run" / "dev-keks"))
    groups = []
    for service in PROCESSES.values():
        env[f"{service.prefix}_PORT"] = str(service.port)
        if service.group is not None:
            env[f"{service.prefix}_GROUP_ID"] = service.group
            groups.append(service.group)
            groups += [service.group + suffix for suffix in OWN_GROUPS.get(service.module, ())]
    # This session's consumers start at the end of the topics, not behind what `make bench`
    # or `make up` produced on them since the last session (their tenants are not here).
    subprocess.run(
        [
            sys.executable,
            str(REPO / "deploy/local/kafka_topics.py"),
            "--skip-to-end",
            ",".join(groups),
        ],
        check=True,
        env=env,
    )
    stack = Stack(
        gateway_url=f"http://127.0.0.1:{SERVICES['trigger-gateway'].port}",
        database=database,
        kafka=KAFKA,
        mongo_uri=MONGO,
        processes={},
        env=env,
    )
    try:
        for name in PROCESSES:
            stack.start(name)
        yield stack
    finally:
        stack.stop_all()
        MongoClient(MONGO).drop_database(database)


@dataclass(frozen=True)
class Prometheus:
    """The machine's Prometheus, scraping this session's services (label stack="e2e")."""

    url: str
    targets: list[Path]


def _prometheus_targets_dir(http: httpx.Client) -> Path:
    """Where the running Prometheus reads its service targets from (file_sd, infra.sh): read from
    its config, since it may be another checkout's (a worktree's), not this one's .run/."""
    config = http.get("/api/v1/status/config").raise_for_status().json()["data"]["yaml"]
    found = re.search(r"(\S+)/executor\.\*\.json", config)
    assert found, f"the Prometheus at {http.base_url} has no file_sd targets for the executor"
    return Path(found.group(1))


@pytest.fixture(scope="session")
def prometheus(stack: Stack) -> Iterator[Prometheus]:
    """Prometheus scraping the e2e services every second for the rest of the session (a target
    file per service next to the `make up` ones; removed at the end, when it stops scraping)."""
    with httpx.Client(base_url=PROMETHEUS_URL, timeout=10) as http:
        ready = http.get("/-/ready")
        assert ready.status_code == 200, f"{PROMETHEUS_URL} is not ready: {ready.text}"
        directory = _prometheus_targets_dir(http)
    written = []
    for name, service in SERVICES.items():
        path = directory / f"{name}.e2e.json"
        target = {
            "targets": [f"127.0.0.1:{service.port}"],
            "labels": {"stack": "e2e", "__scrape_interval__": "1s", "__scrape_timeout__": "1s"},
        }
        draft = path.with_suffix(".tmp")  # not matched by the *.json glob until complete
        draft.write_text(json.dumps([target]))
        draft.rename(path)
        written.append(path)
    try:
        yield Prometheus(PROMETHEUS_URL, written)
    finally:
        for path in written:
            path.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def services_stay_up(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts with all five services up and fails if one died under it."""
    if "stack" not in request.fixturenames:
        yield
        return
    stack: Stack = request.getfixturevalue("stack")
    stack.restart_missing()
    yield
    stack.assert_alive()


@pytest.fixture
async def http(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture
def mongo(stack: Stack) -> Iterator[Any]:
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


@dataclass
class TenantApi:
    """The public HTTP API as one tenant uses it."""

    http: httpx.AsyncClient
    tenant: Tenant
    stack: Stack

    async def activate(self, workflow: dict[str, Any]) -> str:
        """Save a workflow and make it the active one; its id."""
        saved = await self.http.post("/v1/workflows", json=workflow, headers=self.tenant.headers)
        assert saved.status_code == 201, saved.text
        workflow_id: str = saved.json()["id"]
        active = await self.http.post(
            f"/v1/workflows/{workflow_id}/activate", headers=self.tenant.headers
        )
        assert active.status_code == 200, active.text
        return workflow_id

    async def message(
        self,
        text: str,
        *,
        conversation_id: str,
        customer: dict[str, Any] | None = None,
        **payload: Any,
    ) -> str:
        """Post an incoming chat message (``payload``: more trigger fields); the trigger id."""
        accepted = await self.http.post(
            "/v1/events/incoming_message",
            json={
                "conversation_id": conversation_id,
                "channel": "chat",
                "payload": {"text": text, **payload},
                "customer": customer or {"name": "Ada"},
            },
            headers=self.tenant.headers,
        )
        assert accepted.status_code == 202, accepted.text
        trigger_id: str = accepted.json()["trigger_id"]
        return trigger_id

    async def finished_execution(self, trigger_id: str, timeout: float = 60) -> dict[str, Any]:
        """The execution a trigger caused, once completed or failed, with its timeline."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.stack.assert_alive()
            listed = await self.http.get(
                "/v1/executions", params={"trigger_id": trigger_id}, headers=self.tenant.headers
            )
            assert listed.status_code == 200, listed.text
            for summary in listed.json()["executions"]:
                if summary["status"] in ("completed", "failed"):
                    one = await self.http.get(
                        f"/v1/executions/{summary['id']}", headers=self.tenant.headers
                    )
                    assert one.status_code == 200, one.text
                    return dict(one.json())
            await asyncio.sleep(0.1)
        raise AssertionError(f"no finished execution for trigger {trigger_id} in {timeout}s")


@pytest.fixture
def api(http: httpx.AsyncClient, tenant: Tenant, stack: Stack) -> TenantApi:
    return TenantApi(http, tenant, stack)
