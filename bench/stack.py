"""`make bench`: the whole system under load, measured from the outside.

    make bench                          # full: a few minutes
    make bench BENCH_ARGS=--quick       # about a minute
    .venv/bin/python bench/stack.py --help

What runs: Kafka and FerretDB through `deploy/local/infra.sh start` (only the ones that were not
running are stopped at the end), the five services as processes on their own ports (28080-28084,
`BENCH_PORT_BASE`), consumer groups `connectflo-<service>-bench` and a fresh database, so a
`make up` stack's data and offsets are left alone (its executor and notifier would consume our
messages on the shared topics, so the bench refuses to run beside one unless --allow-shared).
The machine-wide lock /tmp/connectflo-e2e.lock is held for the whole run, as the end-to-end tests
do, so two runs never measure each other.

The workload: a tenant, the 4-node workflow trigger -> Condition -> Set Variable -> Send Reply
(the reply delivered by the notifier on the chat channel), HTTP triggers into the gateway
(`POST /v1/events/incoming_message`, one conversation per trigger), completion observed on
`connectflo.executions.v1` (ExecutionCompleted) by a plain consumer assigned to every partition.
A trigger maps to its execution by the executor's deterministic id
(`exe_` + sha256(f"{trigger_id}|{workflow_id}")[:24]), checked against the history API once.

Phases, each measured separately:
  idle      sequential triggers, one at a time: the latency of one execution on a quiet system
  open R/s  open loop: triggers sent on a fixed schedule whatever happens to the earlier ones;
            latency = completion - scheduled send time (no coordinated omission)
  closed N  N clients, each sends a trigger and waits for its completion, then the next:
            throughput at saturation; nothing is left behind by construction
  sustain   open loop at the best closed-loop rate: do completions keep up for the whole phase?

Per phase: completions/s, latency percentiles, not completed within --timeout, MongoDB commands
per workflow and per node (at the server: FerretDB's serverStatus counters, idle background
subtracted; and per service: a pymongo CommandListener injected by bench/service_hook.py),
Kafka messages per workflow (end offsets of every connectflo.* topic before and after), and
CPU per process (utime+stime from /proc/<pid>/stat) as % of one core and ms per workflow.
Results also go to .run/bench/last.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import functools
import gc
import hashlib
import json
import math
import os
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from contracts.topics import ALL_TOPICS
from pymongo import MongoClient

REPO = Path(__file__).resolve().parents[1]
RUN = REPO / ".run" / "bench"
INFRA = REPO / "deploy" / "local" / "infra.sh"
KAFKA_TOPICS = REPO / "deploy" / "local" / "kafka_topics.py"
LOCK = "/tmp/connectflo-e2e.lock"
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
MONGO = os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/")
EXECUTIONS_TOPIC = "connectflo.executions.v1"
PARTITIONS = {spec.name: spec.partitions for spec in ALL_TOPICS}  # every connectflo.* topic
PORT_BASE = int(os.environ.get("BENCH_PORT_BASE", "28080"))
ADMIN_TOKEN = "bench-" + secrets.token_hex(8)
CLK_TCK = os.sysconf("SC_CLK_TCK")
NODES_PER_WORKFLOW = 4  # trigger, condition, set variable, send reply
NODE_RUNS_PER_WORKFLOW = 5  # the reply runs twice: requested (waiting), then settled

# name: (module, env prefix, port offset); started in this order, the gateway last.
SERVICES = {
    "executor": ("executor", "EXECUTOR", 1),
    "notifier": ("notifier", "NOTIFIER", 4),
    "scheduler": ("scheduler", "SCHEDULER", 2),
    "integrations": ("integrations", "INTEGRATIONS", 3),
    "gateway": ("trigger_gateway", "GATEWAY", 0),
}
# serverStatus counts these too; they are connection monitoring, not work.
MONITORING = {"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo", "serverStatus"}

WORKFLOW: dict[str, Any] = {
    "name": "Bench: condition, set variable, reply",
    "triggerType": "Incoming Message",
    "nodes": [
        {
            "id": "t",
            "type": "trigger",
            "label": "Incoming Message",
            "config": {"channels": ["chat"]},
        },
        {
            "id": "c",
            "type": "condition",
            "label": "Asks about an order?",
            "config": {
                "condition": {"left": "trigger.text", "operator": "contains", "right": "order"},
                "default": "no",
            },
        },
        {
            "id": "set",
            "type": "action",
            "label": "Set Variable",
            "config": {"path": "workflow.topic", "value": "{{trigger.text}}"},
        },
        {
            "id": "reply",
            "type": "action",
            "label": "Send Reply",
            "config": {"message": "Hi {{customer.name}}, about: {{workflow.topic}}"},
        },
    ],
    "edges": [
        {"id": "e1", "source": "t", "target": "c"},
        {"id": "e2", "source": "c", "target": "set", "label": "yes"},
        {"id": "e3", "source": "set", "target": "reply"},
    ],
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def execution_id_for(trigger_id: str, workflow_id: str) -> str:
    """The executor's id (services/executor/src/executor/runtime/service.py)."""
    return "exe_" + hashlib.sha256(f"{trigger_id}|{workflow_id}".encode()).hexdigest()[:24]


def percentile(ordered: list[float], q: float) -> float:
    """Nearest rank."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --------------------------------------------------------------------------- the machine


MODULES = {module for module, _prefix, _offset in SERVICES.values()}
CODE = "?"  # the code the services ran: set when they start
LOCK_STALE = False  # set when the lock was found orphaned and the run went ahead without it


def service_processes(exclude: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Service processes on this machine (any stack: make up, e2e, another bench), but ours."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        for i, arg in enumerate(argv[:-1]):
            if (arg == "-m" or arg.endswith("service_hook.py")) and argv[i + 1] in MODULES:
                found.append(f"{argv[i + 1]} (pid {entry.name})")
    return found


def orphaned_lock() -> str | None:
    """When the lock's holder is gone but the lock lives on in an inherited descriptor (a server
    started while its starter held the lock keeps it for as long as it runs): who keeps it."""
    inode = os.stat(LOCK).st_ino
    holder = None
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields or len(fields) < 6 or not fields[5].endswith(f":{inode}"):
            continue
        holder = int(fields[4])
    if holder is None or Path(f"/proc/{holder}").exists():
        return None
    keepers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) == LOCK for fd in (entry / "fd").iterdir()):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                name = Path(argv[0].decode(errors="replace")).name
                if name in ("java", "connectflo-ferretdb"):
                    keepers.append(f"{name} (pid {entry.name})")
    if not keepers:
        return None
    return f"taken by pid {holder} (gone), kept by the descriptor {', '.join(keepers)} inherited"


@contextlib.contextmanager
def e2e_lock(strict: bool) -> Iterator[None]:
    """The machine-wide lock of end-to-end runs (tests-e2e/conftest.py, run-tests.sh).

    If the lock is orphaned (see ``orphaned_lock``) nobody can take it until Kafka/FerretDB are
    restarted, which this script never does to servers it did not start. Unless --strict-lock,
    the bench then goes ahead once no other stack's service processes have run for 5 s, and
    checks again after every phase (a result measured beside another stack is marked)."""
    global LOCK_STALE
    if os.environ.get("CONNECTFLO_E2E_LOCKED"):
        yield
        return
    with open(LOCK, "w") as handle:
        said, quiet_since = "", None
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            stale = None if strict else orphaned_lock()
            others = service_processes() if stale else []
            message = (
                f"{LOCK} is orphaned ({stale}); going ahead once no other stack runs"
                + (f" (now: {', '.join(others)})" if others else "")
                if stale
                else f"waiting for {LOCK} (another end-to-end run or bench holds it)"
            )
            if message != said:
                log(message)
                said = message
            if stale and not others:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 5:
                    LOCK_STALE = True
                    log(
                        "WARNING: running without the lock; fix: restart Kafka and FerretDB "
                        "from a shell that does not hold it"
                    )
                    break
            else:
                quiet_since = None
            time.sleep(1)
        yield


def code_version() -> str:
    """HEAD, and the service files that differ from it: the figures are for that code."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "services", "libs"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    return f"{head or '?'}" + (
        f" + {len(dirty)} uncommitted file(s) in services/libs" if dirty else ""
    )


def infra_running(component: str) -> bool:
    result = subprocess.run(
        [str(INFRA), "status", component], capture_output=True, text=True, check=False
    )
    return result.returncode == 0


def read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def postmaster_pid() -> int | None:
    """The PostgreSQL under FerretDB (deploy/local/infra.sh, FERRETDB_BACKEND=postgresql)."""
    try:
        pid = int((REPO / ".run/postgres/data/postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def make_up_services() -> list[str]:
    """Services of a `make up` stack (deploy/local/services.sh) that are running now."""
    running = []
    for name, (module, _prefix, _offset) in SERVICES.items():
        pid = read_pid(REPO / ".run" / "services" / f"{module}.pid")
        if pid is None:
            continue
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if module.encode() in cmdline:
                running.append(name)
    return running


def cpu_reader(pid: int | None) -> Callable[[], int | None] | None:
    """Reads a process's CPU ticks; None when it does not run."""
    return None if pid is None else functools.partial(cpu_ticks, pid)


def postgres_ticks(postmaster: int) -> int | None:
    """utime + stime of a PostgreSQL server: the postmaster and every process it started (one
    per connection, and its background workers), for FERRETDB_BACKEND=postgresql. A backend
    that has exited counts through the postmaster's cutime + cstime (it reaped it): without
    them a phase in which connections close would show less than nothing."""
    total = cpu_ticks(postmaster, reaped_children=True)
    if total is None:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (proc / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[1]) == postmaster:  # ppid
                total += int(fields[11]) + int(fields[12])
    return total


def cpu_ticks(pid: int, *, reaped_children: bool = False) -> int | None:
    """utime + stime of a process (all its threads), in clock ticks; with ``reaped_children``
    also cutime + cstime (children that exited and were waited for)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks + int(fields[13]) + int(fields[14]) if reaped_children else ticks


class Stack:
    """The five services as processes of this run."""

    def __init__(self, database: str, hook: bool, executors: int = 1) -> None:
        self.database = database
        self.hook = hook
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        # name -> (module, env prefix, port offset); replicas of the executor (stateless: they
        # share its consumer group, Kafka splits the partitions) on ports after the five.
        self.instances = dict(SERVICES)
        for i in range(2, executors + 1):
            self.instances[f"executor-{i}"] = ("executor", "EXECUTOR", 3 + i)
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "MONGO_URI": MONGO,
            "MONGO_DATABASE": database,
            "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
            "GATEWAY_EXECUTOR_URL": f"http://127.0.0.1:{PORT_BASE + 1}",
            "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{PORT_BASE}",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)  # no span export in a benchmark
        for module, prefix, offset in SERVICES.values():
            self.env[f"{prefix}_PORT"] = str(PORT_BASE + offset)
            if module != "trigger_gateway":
                self.env[f"{prefix}_GROUP_ID"] = f"connectflo-{module}-bench"
        self.groups = [v for k, v in self.env.items() if k.endswith("_GROUP_ID")]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{PORT_BASE + self.instances[name][2]}"

    def start(self) -> None:
        RUN.mkdir(parents=True, exist_ok=True)
        for name, (module, prefix, offset) in self.instances.items():
            logfile = (RUN / f"{name}.log").open("wb")
            command = [sys.executable, "-m", module]
            if self.hook:
                command = [sys.executable, str(REPO / "bench" / "service_hook.py"), module]
            env = {**self.env, f"{prefix}_PORT": str(PORT_BASE + offset)}
            self.processes[name] = subprocess.Popen(
                command, env=env, stdout=logfile, stderr=subprocess.STDOUT, cwd=REPO
            )
        for name in self.instances:
            self.wait_healthy(name)

    def wait_healthy(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url(name)}/healthz", timeout=2).is_success:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{name} not healthy after {timeout}s:\n{self.tail(name)}")

    def tail(self, name: str) -> str:
        return (RUN / f"{name}.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


# --------------------------------------------------------------------------- measurements


@dataclass
class Snapshot:
    at: float
    offsets: dict[str, int]
    mongo: dict[str, int]
    mongo_by_service: dict[str, dict[str, float]]
    cpu: dict[str, int | None]


@dataclass
class Sample:
    scheduled: float
    sent: float = 0.0
    answered: float = 0.0
    status: int = 0
    execution_id: str | None = None


@dataclass
class Phase:
    name: str
    kind: str  # idle | open | closed | sustain
    rate: float | None = None
    clients: int | None = None
    duration: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    started: float = 0.0
    ended_sending: float = 0.0
    before: Snapshot | None = None
    after: Snapshot | None = None
    max_lag: float = 0.0
    cut_off: float | None = None
    in_flight: list[int] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)


class RawHttp:
    """A minimal HTTP/1.1 keep-alive client: a load generator that costs little CPU, so the
    machine's two cores go to the system under test (httpx costs ~10x more per request)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.head}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        for attempt in (0, 1):
            reused = bool(self.idle) and attempt == 0  # the retry takes a new connection
            if reused:
                reader, writer = self.idle.pop()
            else:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                self.opened += 1
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                payload = await reader.readexactly(int(match.group(1))) if match else b""
            except (OSError, asyncio.IncompleteReadError):
                writer.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle connection: once more on a new one
                raise
            if re.search(rb"(?i)\r\nconnection: *close", head):
                writer.close()
            else:
                self.idle.append((reader, writer))
            return status, payload
        raise AssertionError("unreachable")

    def close(self) -> None:
        for _reader, writer in self.idle:
            writer.close()


class Bench:
    def __init__(self, args: argparse.Namespace, stack: Stack, mongo: MongoClient[Any]) -> None:
        self.args = args
        self.stack = stack
        self.mongo = mongo
        self.completed: dict[str, tuple[float, str]] = {}
        self.waiters: dict[str, asyncio.Future[None]] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.workflow_id = ""
        self.http: RawHttp | None = None
        self.seq = 0
        self.run_id = secrets.token_hex(3)
        # process name -> a reader of its CPU ticks (None: not running)
        self.cpu_readers: dict[str, Callable[[], int | None]] = {}
        self.background: dict[str, float] = {}  # MongoDB commands per second while idle
        self.idle_cpu: dict[str, float] = {}
        self.watcher: asyncio.Task[None] | None = None

    # -- setup

    async def setup(self) -> None:
        async with httpx.AsyncClient(base_url=self.stack.url("gateway"), timeout=30) as http:
            created = await http.post(
                "/v1/tenants", json={"name": "Bench"}, headers={"X-Admin-Token": ADMIN_TOKEN}
            )
            created.raise_for_status()
            key = created.json()["api_key"]
            auth = {"Authorization": f"Bearer {key}"}
            saved = await http.post("/v1/workflows", json=WORKFLOW, headers=auth)
            if saved.status_code != 201:
                raise RuntimeError(f"workflow not saved: {saved.status_code} {saved.text}")
            self.workflow_id = saved.json()["id"]
            active = await http.post(f"/v1/workflows/{self.workflow_id}/activate", headers=auth)
            active.raise_for_status()
        self.http = RawHttp("127.0.0.1", PORT_BASE, auth)
        self.api_key = key
        self.consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
        await self.consumer.start()
        partitions = [
            TopicPartition(EXECUTIONS_TOPIC, p) for p in range(PARTITIONS[EXECUTIONS_TOPIC])
        ]
        if not partitions:
            raise RuntimeError(f"topic {EXECUTIONS_TOPIC} not found")
        self.consumer.assign(partitions)
        await self.consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self.consumer.position(tp)
        self.watcher = asyncio.create_task(self.watch())
        postmaster = postmaster_pid()  # FerretDB on PostgreSQL: the server and its backends
        readers: dict[str, Callable[[], int | None] | None] = {
            "kafka (java)": cpu_reader(read_pid(REPO / ".run/kafka/kafka.pid")),
            "ferretdb": cpu_reader(read_pid(REPO / ".run/mongo/ferretdb.pid")),
            "postgresql (FerretDB's storage)": (
                None if postmaster is None else functools.partial(postgres_ticks, postmaster)
            ),
            **{name: cpu_reader(p.pid) for name, p in self.stack.processes.items()},
            "bench (load + observer)": cpu_reader(os.getpid()),
        }
        self.cpu_readers = {name: read for name, read in readers.items() if read is not None}

    async def watch(self) -> None:
        assert self.consumer is not None
        async for record in self.consumer:
            kind = None
            for key, value in record.headers:
                if key == "ce_type":
                    kind = value
                    break
            if kind not in (b"ExecutionCompleted", b"ExecutionFailed"):
                continue
            now = time.perf_counter()
            execution_id = json.loads(record.value)["execution_id"]
            self.completed.setdefault(execution_id, (now, kind.decode()))
            waiter = self.waiters.pop(execution_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def close(self) -> None:
        if self.watcher is not None:
            self.watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watcher
        if self.consumer is not None:
            await self.consumer.stop()
        if self.http is not None:
            self.http.close()

    # -- snapshots

    async def snapshot(self) -> Snapshot:
        assert self.consumer is not None
        partitions = [TopicPartition(t, p) for t, n in PARTITIONS.items() for p in range(n)]
        ends = await self.consumer.end_offsets(partitions)
        offsets: dict[str, int] = {}
        for tp, end in ends.items():
            offsets[tp.topic] = offsets.get(tp.topic, 0) + end
        status = await asyncio.to_thread(self.mongo.admin.command, "serverStatus")
        mongo = {
            name: int(counts.get("total", 0))
            for name, counts in status.get("metrics", {}).get("commands", {}).items()
            if name not in MONITORING
        }
        by_service: dict[str, dict[str, float]] = {}
        if self.stack.hook:
            async with httpx.AsyncClient(timeout=5, follow_redirects=True) as http:
                for name in self.stack.instances:
                    by_service[name] = parse_counter(
                        (await http.get(f"{self.stack.url(name)}/metrics")).text
                    )
        return Snapshot(
            time.perf_counter(),
            offsets,
            mongo,
            by_service,
            {name: read() for name, read in self.cpu_readers.items()},
        )

    async def calibrate(self, seconds: float) -> None:
        """MongoDB commands per second while nothing is sent (scheduler polls, other clients)."""
        first = await self.snapshot()
        await asyncio.sleep(seconds)
        second = await self.snapshot()
        span = second.at - first.at
        self.background = {
            name: (second.mongo.get(name, 0) - first.mongo.get(name, 0)) / span
            for name in second.mongo
        }
        self.idle_cpu = {
            name: (second.cpu[name] - first.cpu[name]) / CLK_TCK / span * 100  # type: ignore[operator]
            for name in second.cpu
            if second.cpu[name] is not None and first.cpu[name] is not None
        }

    # -- load

    def body(self) -> bytes:
        self.seq += 1
        return json.dumps(
            {
                "conversation_id": f"bench-{self.run_id}-{self.seq}",
                "channel": "chat",
                "payload": {"text": f"where is my order {self.seq}?"},
                "customer": {"id": f"cust-{self.seq}", "name": "Bench"},
            }
        ).encode()

    async def fire(self, sample: Sample) -> None:
        assert self.http is not None
        sample.sent = time.perf_counter()
        try:
            status, payload = await self.http.post("/v1/events/incoming_message", self.body())
        except (OSError, asyncio.IncompleteReadError):
            status, payload = 599, b""
        sample.answered = time.perf_counter()
        sample.status = status
        if status == 202:
            sample.execution_id = execution_id_for(
                json.loads(payload)["trigger_id"], self.workflow_id
            )

    async def completion(self, execution_id: str | None, timeout: float) -> bool:
        if execution_id is None:
            return False
        if execution_id in self.completed:
            return True
        waiter = self.waiters.setdefault(execution_id, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return False
        return True

    async def drain(self, phase: Phase) -> None:
        """Wait until every trigger of the phase completed, or --timeout after the last send."""
        deadline = phase.ended_sending + self.args.timeout
        while time.perf_counter() < deadline:
            if all(s.execution_id in self.completed for s in phase.samples if s.status == 202):
                return
            await asyncio.sleep(0.02)

    async def settle(self, phases: list[Phase]) -> None:
        """Before the next phase: the backlog of earlier ones worked off (up to --settle s), so
        a phase measures its own load only."""
        pending = [
            s.execution_id
            for p in phases
            for s in p.samples
            if s.execution_id and s.execution_id not in self.completed
        ]
        if not pending:
            return
        log(
            f"waiting for {len(pending)} earlier triggers to complete "
            f"(up to {self.args.settle:g} s)"
        )
        deadline = time.perf_counter() + self.args.settle
        while time.perf_counter() < deadline:
            pending = [e for e in pending if e not in self.completed]
            if not pending:
                return
            await asyncio.sleep(0.1)
        log(
            f"WARNING: {len(pending)} earlier triggers still not completed; the next phase "
            "starts with that backlog"
        )

    async def monitor(self, phase: Phase, stop: asyncio.Event) -> None:
        """Triggers sent but not completed, once a second."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            waiting = sum(
                1 for s in phase.samples if s.execution_id and s.execution_id not in self.completed
            )
            phase.in_flight.append(waiting)

    def other_stacks(self) -> list[str]:
        return service_processes({p.pid for p in self.stack.processes.values()})

    async def run_phase(self, phase: Phase) -> Phase:
        # Latency runs from the scheduled send time, so this process's own pauses count as the
        # system's: what earlier phases left (samples, observed messages) is frozen out of
        # the collector's walks (a full collection over it stalled sending by up to 159 ms).
        gc.collect()
        gc.freeze()
        others = self.other_stacks()
        phase.before = await self.snapshot()
        stop = asyncio.Event()
        monitor = asyncio.create_task(self.monitor(phase, stop))
        phase.started = time.perf_counter()
        if phase.kind == "idle":
            for _ in range(int(phase.duration)):
                sample = Sample(time.perf_counter())
                phase.samples.append(sample)
                await self.fire(sample)
                await self.completion(sample.execution_id, self.args.timeout)
        elif phase.kind in ("open", "sustain"):
            await self.open_loop(phase)
        else:
            await self.closed_loop(phase)
        phase.ended_sending = time.perf_counter()
        stop.set()
        await monitor
        await self.drain(phase)
        await asyncio.sleep(0.3)  # the last NodesStepped/ReplySent land after the completion
        phase.after = await self.snapshot()
        phase.result = self.summarise(phase)
        others = sorted(set(others + self.other_stacks()))
        phase.result["other_stacks"] = others
        if others:
            log(f"WARNING: {phase.name} ran beside another stack: {', '.join(others)}")
        if phase.max_lag > 0.02:
            log(
                f"{phase.name}: the load generator sent up to {phase.max_lag * 1000:.0f} ms "
                "late (counted in the latency: it runs from the scheduled send time)"
            )
        log(headline(phase))
        return phase

    async def open_loop(self, phase: Phase) -> None:
        assert phase.rate
        count = int(phase.rate * phase.duration)
        start = time.perf_counter() + 0.05
        # Far behind: stop (the backlog would only spill into the next phases).
        cap = max(100.0, phase.rate * self.args.overload)
        tasks = []
        for i in range(count):
            scheduled = start + i / phase.rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                phase.max_lag = max(phase.max_lag, -delay)
            sample = Sample(scheduled)
            phase.samples.append(sample)
            tasks.append(asyncio.create_task(self.fire(sample)))
            if i % 25 == 0 and phase.in_flight and phase.in_flight[-1] > cap:
                phase.cut_off = time.perf_counter() - start
                log(
                    f"{phase.name}: {phase.in_flight[-1]} triggers in flight after "
                    f"{phase.cut_off:.1f} s: overloaded, sending stops"
                )
                break
        await asyncio.gather(*tasks)

    async def closed_loop(self, phase: Phase) -> None:
        assert phase.clients
        end = time.perf_counter() + phase.duration

        async def client() -> None:
            while time.perf_counter() < end:
                sample = Sample(time.perf_counter())
                phase.samples.append(sample)
                await self.fire(sample)
                if not await self.completion(sample.execution_id, self.args.timeout):
                    return

        await asyncio.gather(*(client() for _ in range(phase.clients)))

    # -- results

    def summarise(self, phase: Phase) -> dict[str, Any]:
        assert phase.before and phase.after
        accepted = [s for s in phase.samples if s.status == 202]
        latencies, failed, missing = [], 0, 0
        for s in accepted:
            done = self.completed.get(s.execution_id or "")
            if done is None or done[0] - s.scheduled > self.args.timeout:
                missing += 1
                continue
            if done[1] == "ExecutionFailed":
                failed += 1
            latencies.append((done[0] - s.scheduled) * 1000)
        latencies.sort()
        posts = sorted((s.answered - s.sent) * 1000 for s in accepted)
        completed = len(latencies)
        span = phase.ended_sending - phase.started
        # Throughput: completions per second over the sending window, the first seconds
        # (ramp-up) left out for closed loops.
        warm = min(3.0, span / 4) if phase.kind == "closed" else 0.0
        window_from, window_to = phase.started + warm, phase.ended_sending
        in_window = sum(
            1
            for t, _kind in (self.completed.get(s.execution_id or "", (0, "")) for s in accepted)
            if window_from <= t <= window_to
        )
        throughput = in_window / (window_to - window_from) if window_to > window_from else 0.0
        measured = phase.after.at - phase.before.at

        kafka = {
            topic: phase.after.offsets.get(topic, 0) - phase.before.offsets.get(topic, 0)
            for topic in phase.after.offsets
        }
        kafka = {t: n for t, n in kafka.items() if n}
        mongo_raw = {
            name: phase.after.mongo.get(name, 0) - phase.before.mongo.get(name, 0)
            for name in phase.after.mongo
        }
        mongo = {
            name: max(0.0, n - self.background.get(name, 0.0) * measured)
            for name, n in mongo_raw.items()
        }
        mongo = {name: n for name, n in mongo.items() if n >= 0.5}
        by_service: dict[str, dict[str, float]] = {}
        for service, counts in phase.after.mongo_by_service.items():
            earlier = phase.before.mongo_by_service.get(service, {})
            delta = {k: v - earlier.get(k, 0.0) for k, v in counts.items()}
            delta = {k: v for k, v in delta.items() if v}
            if delta:
                by_service[service] = delta
        cpu = {}
        for name, ticks in phase.after.cpu.items():
            first = phase.before.cpu.get(name)
            if ticks is None or first is None:
                continue
            seconds = (ticks - first) / CLK_TCK
            cpu[name] = {
                "percent": seconds / measured * 100,
                "ms_per_workflow": seconds * 1000 / completed if completed else math.nan,
            }
        per_wf = completed or math.nan
        total_mongo = sum(mongo.values())
        return {
            "phase": phase.name,
            "kind": phase.kind,
            "offered_per_s": phase.rate,
            "clients": phase.clients,
            "seconds_sending": round(span, 2),
            "sent": len(phase.samples),
            "accepted": len(accepted),
            "http_errors": len(phase.samples) - len(accepted),
            "http_error_statuses": dict(
                Counter(s.status for s in phase.samples if s.status != 202)
            ),
            "completed": completed,
            "failed": failed,
            "not_completed": missing,
            "throughput_per_s": throughput,
            "latency_ms": {
                q: percentile(latencies, v)
                for q, v in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
            },
            "post_ms": {"p50": percentile(posts, 0.5), "p99": percentile(posts, 0.99)},
            "max_send_lag_ms": phase.max_lag * 1000,
            "cut_off_after_s": phase.cut_off,
            "max_in_flight": max(phase.in_flight, default=0),
            "in_flight_per_s": phase.in_flight,
            "kafka_messages": kafka,
            "kafka_messages_per_workflow": sum(kafka.values()) / per_wf,
            "mongo_commands": mongo,
            "mongo_commands_per_workflow": total_mongo / per_wf,
            "mongo_commands_per_node": total_mongo / per_wf / NODES_PER_WORKFLOW,
            "mongo_by_service": by_service,
            "cpu": cpu,
            "measured_seconds": round(measured, 2),
        }


def parse_counter(text: str) -> dict[str, float]:
    """connectflo_bench_mongo_commands_total{command="x",collection="y"} N -> {"x y": N}."""
    counts = {}
    for line in text.splitlines():
        if line.startswith("connectflo_bench_mongo_commands_total{"):
            labels, value = line.rsplit(" ", 1)
            parts = dict(re.findall(r'(\w+)="([^"]*)"', labels))
            counts[f"{parts.get('command')} {parts.get('collection')}".strip()] = float(value)
    return counts


def headline(phase: Phase) -> str:
    r = phase.result
    lat = r["latency_ms"]
    return (
        f"{phase.name:<12} sent {r['sent']:5d}  completed {r['completed']:5d}  "
        f"missing {r['not_completed']:3d}  {r['throughput_per_s']:6.1f} wf/s  "
        f"p50 {lat['p50']:6.1f}  p95 {lat['p95']:6.1f}  p99 {lat['p99']:6.1f} ms  "
        f"max in flight {r['max_in_flight']}"
        + (f"  HTTP errors {r['http_error_statuses']}" if r["http_errors"] else "")
    )


# --------------------------------------------------------------------------- report


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


def report(phases: list[Phase], bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    results = [p.result for p in phases]
    print(
        "\n=== make bench: trigger -> Condition -> Set Variable -> Send Reply (4 nodes), "
        f"{os.cpu_count()} cores, everything on this machine; "
        f"{args.executors} executor process{'es' if args.executors > 1 else ''}; "
        f"FerretDB on {'PostgreSQL' if postmaster_pid() else 'SQLite'}; code {CODE}\n"
    )
    rows = []
    for r in results:
        load = (
            f"{r['offered_per_s']:g}/s open"
            if r["offered_per_s"]
            else (f"{r['clients']} clients" if r["clients"] else "1 at a time")
        )
        lat = r["latency_ms"]
        rows.append(
            [
                r["phase"]
                + (f" (cut {r['cut_off_after_s']:.0f}s)" if r.get("cut_off_after_s") else "")
                + (" *" if r.get("other_stacks") else ""),
                load,
                str(r["sent"]),
                str(r["completed"]),
                str(r["not_completed"] + r["http_errors"]),
                fmt(r["throughput_per_s"]),
                fmt(lat["p50"]),
                fmt(lat["p95"]),
                fmt(lat["p99"]),
                fmt(lat["max"], 0),
                fmt(r["post_ms"]["p99"]),
                fmt(r["mongo_commands_per_workflow"]),
                fmt(r["mongo_commands_per_node"], 2),
                fmt(r["kafka_messages_per_workflow"]),
            ]
        )
    print(
        table(
            rows,
            [
                "phase",
                "load",
                "sent",
                "done",
                "lost",
                "wf/s",
                "p50",
                "p95",
                "p99",
                "max",
                "POST p99",
                "mongo/wf",
                "mongo/node",
                "kafka/wf",
            ],
        )
    )
    print(
        f"\nlatency = trigger POST (scheduled send time) -> ExecutionCompleted seen on Kafka, ms; "
        f"lost = not completed within {args.timeout:g} s (+ HTTP errors); "
        "mongo = commands at the server (FerretDB serverStatus, idle background subtracted), "
        f"per workflow and per node ({NODES_PER_WORKFLOW} nodes, {NODE_RUNS_PER_WORKFLOW} node "
        "runs); kafka = messages on connectflo.* topics per completed workflow"
    )

    if any(r.get("other_stacks") for r in results):
        print("* measured while another stack's services were running: not a clean figure")
    if LOCK_STALE:
        print(f"note: {LOCK} was orphaned; this run went ahead without it (see --strict-lock)")

    # CPU per process: % of one core, and ms per workflow, per phase.
    names = list(bench.cpu_readers)
    rows = []
    for name in names:
        row = [name, fmt(bench.idle_cpu.get(name))]
        for r in results:
            cpu = r["cpu"].get(name)
            row.append(
                f"{fmt(cpu['percent'], 0)}% {fmt(cpu['ms_per_workflow'], 2)}" if cpu else "-"
            )
        rows.append(row)
    total = ["total", fmt(sum(bench.idle_cpu.values()))]
    for r in results:
        total.append(
            f"{fmt(sum(c['percent'] for c in r['cpu'].values()), 0)}% "
            f"{fmt(sum(c['ms_per_workflow'] for c in r['cpu'].values()), 2)}"
        )
    rows.append(total)
    print("\nCPU per process: % of one core over the phase, and CPU ms per completed workflow")
    print(table(rows, ["process", "quiet %", *[r["phase"] for r in results]]))

    heaviest = max(results, key=lambda r: r["throughput_per_s"])
    print(f"\nKafka messages per workflow by topic ({heaviest['phase']}):")
    for topic, n in sorted(heaviest["kafka_messages"].items()):
        print(f"  {topic:<40} {n / max(1, heaviest['completed']):5.2f}")
    print(f"MongoDB commands per workflow at the server ({heaviest['phase']}):")
    for name, n in sorted(heaviest["mongo_commands"].items(), key=lambda kv: -kv[1]):
        print(f"  {name:<40} {n / max(1, heaviest['completed']):5.2f}")
    if heaviest["mongo_by_service"]:
        print("MongoDB commands per workflow by service (pymongo listener, bench/service_hook.py):")
        for service, counts in heaviest["mongo_by_service"].items():
            for key, n in sorted(counts.items(), key=lambda kv: -kv[1]):
                per = n / max(1, heaviest["completed"])
                if per >= 0.01:
                    print(f"  {service:<13} {key:<32} {per:5.2f}")

    # Targets.
    sustained = [r for r in results if r["kind"] == "sustain"]
    closed = [r for r in results if r["kind"] == "closed"]
    best_closed = max(closed, key=lambda r: r["throughput_per_s"]) if closed else None
    kept_up = [r for r in sustained if keeps_up(r)]
    if kept_up:
        best = max(kept_up, key=lambda r: r["throughput_per_s"])
        max_rate = best["throughput_per_s"]
        how = f"open loop {best['offered_per_s']:g}/s for {best['seconds_sending']:g} s kept up"
    elif best_closed:
        max_rate = best_closed["throughput_per_s"]
        how = f"closed loop, {best_closed['clients']} clients, {best_closed['seconds_sending']:g} s"
        if sustained:
            how += "; the open-loop check at that rate did NOT keep up"
    else:
        max_rate, how = math.nan, "not measured"
    at100 = next((r for r in results if r["kind"] == "open" and r["offered_per_s"] == 100), None)
    at10 = next((r for r in results if r["kind"] == "closed" and r["clients"] == 10), None)
    print("\nTargets (issue 4)                                  measured                    met?")
    print(
        f"  >= 300 workflows/s sustained                     {fmt(max_rate):>8} wf/s  "
        f"           {'yes' if max_rate >= 300 else 'NO'}   ({how})"
    )
    if at100:
        p99 = at100["latency_ms"]["p99"]
        ok = p99 < 100 and at100["not_completed"] == 0 and not at100["cut_off_after_s"]
        print(
            f"  p99 < 100 ms at 100/s offered                    {fmt(p99):>8} ms "
            f"             {'yes' if ok else 'NO'}   ({at100['not_completed']} not completed"
            + (
                f"; overloaded, sending stopped after {at100['cut_off_after_s']:.1f} s)"
                if at100["cut_off_after_s"]
                else ")"
            )
        )
    print(
        "  reference tool: ~100 executions/s, p99 ~150 ms at 10 concurrent requests"
        + (
            f"; we: {fmt(at10['throughput_per_s'])}/s, p99 {fmt(at10['latency_ms']['p99'])} ms "
            "at 10 clients"
            if at10
            else ""
        )
    )
    summary = {
        "max_sustained_per_s": max_rate,
        "max_sustained_how": how,
        "p99_ms_at_100": at100["latency_ms"]["p99"] if at100 else None,
        "code": CODE,
        "phases": results,
        "idle_cpu_percent": bench.idle_cpu,
        "background_mongo_per_s": bench.background,
    }
    return summary


def keeps_up(r: dict[str, Any]) -> bool:
    """Completions kept pace: nothing lost, and no growing backlog (in flight at the end of the
    phase no more than ~1 s of triggers)."""
    flight = r["in_flight_per_s"]
    return (
        not r.get("cut_off_after_s")
        and r["not_completed"] == 0
        and r["http_errors"] == 0
        and r["completed"] == r["sent"]
        and (not flight or flight[-1] <= max(10, (r["offered_per_s"] or 0) * 1.0))
    )


# --------------------------------------------------------------------------- main


def plan(args: argparse.Namespace) -> list[Phase]:
    """Closed loops first: they cannot overload the system, open loops can."""
    phases = [Phase("idle", "idle", duration=args.idle)]
    for clients in args.clients:
        phases.append(Phase(f"closed {clients}", "closed", clients=clients, duration=args.duration))
    return phases


def open_phases(args: argparse.Namespace) -> list[Phase]:
    return [
        Phase(f"open {rate:g}/s", "open", rate=rate, duration=args.duration) for rate in args.rates
    ]


async def measure(args: argparse.Namespace, stack: Stack) -> dict[str, Any]:
    mongo: MongoClient[Any] = MongoClient(MONGO, serverSelectionTimeoutMS=10000)
    bench = Bench(args, stack, mongo)
    try:
        await bench.setup()
        # Warm up (workflow cache, connections, JIT of Kafka's request path), and check that
        # the deterministic execution id is the one the history API lists.
        warm = Phase("warm-up", "open", rate=20, duration=max(1.0, args.warmup / 20))
        await bench.open_loop(warm)
        warm.ended_sending = time.perf_counter()
        await bench.drain(warm)
        first = warm.samples[0]
        if first.execution_id not in bench.completed:
            raise RuntimeError(
                "warm-up triggers did not complete: is the execution id still "
                "exe_ + sha256(trigger_id|workflow_id)[:24]? see services/executor/src/executor/"
                f"runtime/service.py; logs in {RUN}"
            )
        await bench.calibrate(args.calibrate)
        phases: list[Phase] = []
        for phase in plan(args):
            await bench.settle(phases)
            phases.append(await bench.run_phase(phase))
        if args.sustain:
            closed = [p for p in phases if p.kind == "closed"]
            if closed:
                best = max(p.result["throughput_per_s"] for p in closed)
                rate = max(10.0, math.floor(best / 5) * 5)
                for _attempt in range(2):
                    await bench.settle(phases)
                    phase = await bench.run_phase(
                        Phase(f"sustain {rate:g}/s", "sustain", rate=rate, duration=args.duration)
                    )
                    phases.append(phase)
                    if keeps_up(phase.result):
                        break
                    rate = max(10.0, math.floor(rate * 0.85 / 5) * 5)
        for phase in open_phases(args):
            await bench.settle(phases)
            phases.append(await bench.run_phase(phase))
        summary = report(phases, bench, args)
        db = mongo[stack.database]
        summary["executions_not_completed_in_db"] = db.executions.count_documents(
            {"status": {"$ne": "completed"}}
        )
        summary["executions_in_db"] = db.executions.count_documents({})
        print(
            f"\nexecutions in the database: {summary['executions_in_db']}, "
            f"not completed: {summary['executions_not_completed_in_db']}"
        )
        return summary
    finally:
        await bench.close()
        mongo.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="about a minute: shorter phases")
    parser.add_argument("--rates", type=str, help="open-loop rates per second (default 50,100)")
    parser.add_argument("--clients", type=str, help="closed-loop client counts")
    parser.add_argument("--duration", type=float, help="seconds per phase (full 20, quick 10)")
    parser.add_argument("--idle", type=int, help="sequential triggers of the idle phase")
    parser.add_argument("--timeout", type=float, default=10.0, help="completion timeout, s")
    parser.add_argument(
        "--overload",
        type=float,
        default=5.0,
        help="an open loop stops sending when this many seconds of triggers are in flight",
    )
    parser.add_argument(
        "--settle", type=float, help="max wait for earlier backlog between phases (s)"
    )
    parser.add_argument("--warmup", type=int, default=60, help="warm-up triggers")
    parser.add_argument(
        "--calibrate",
        type=float,
        default=3.0,
        help="idle seconds to measure the MongoDB background rate",
    )
    parser.add_argument(
        "--no-sustain",
        dest="sustain",
        action="store_false",
        default=None,
        help="skip the open-loop check at the best closed-loop rate",
    )
    parser.add_argument(
        "--no-mongo-hook",
        dest="hook",
        action="store_false",
        help="start the services as plain `python -m` (no per-service counts)",
    )
    parser.add_argument(
        "--allow-shared",
        action="store_true",
        help="run even though a `make up` stack consumes the same topics",
    )
    parser.add_argument(
        "--strict-lock",
        action="store_true",
        help="wait for the e2e lock even when it is orphaned (held only by Kafka/FerretDB)",
    )
    parser.add_argument(
        "--executors", type=int, default=1, help="executor processes (one consumer group)"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database")
    parser.add_argument("--json", type=Path, default=RUN / "last.json", help="results file")
    args = parser.parse_args(argv)
    args.rates = [float(x) for x in (args.rates or "50,100").split(",") if x]
    args.clients = [
        int(x)
        for x in (args.clients or ("10,48" if args.quick else "10,32,64,128")).split(",")
        if x
    ]
    args.duration = args.duration or (10.0 if args.quick else 20.0)
    args.settle = args.settle if args.settle is not None else (30.0 if args.quick else 90.0)
    args.idle = args.idle if args.idle is not None else (10 if args.quick else 20)
    if args.sustain is None:
        args.sustain = not args.quick
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    with e2e_lock(args.strict_lock):
        shared = make_up_services()
        if shared and not args.allow_shared:
            print(
                f"a `make up` stack is running ({', '.join(shared)}): its executor and notifier "
                "consume the same topics in their own consumer groups, so they would handle (and "
                "dead-letter) the bench's messages. Stop it (`make down` or "
                "`deploy/local/services.sh stop`), or pass --allow-shared.",
                file=sys.stderr,
            )
            return 2
        started = [c for c in ("kafka", "mongo") if not infra_running(c)]
        stack = Stack("bench_" + secrets.token_hex(4), hook=args.hook, executors=args.executors)
        try:
            log("infrastructure: " + (f"starting {', '.join(started)}" if started else "running"))
            subprocess.run([str(INFRA), "start"], check=True, stdout=subprocess.DEVNULL)
            log(f"services on ports {PORT_BASE}-{PORT_BASE + 4}, database {stack.database}")
            # the bench's groups start at the end: not behind what other stacks produced
            subprocess.run(
                [sys.executable, str(KAFKA_TOPICS), "--skip-to-end", ",".join(stack.groups)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            global CODE
            CODE = code_version()
            stack.start()
            summary = asyncio.run(measure(args, stack))
            summary["args"] = {
                k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
            }
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(summary, indent=2, default=str))
            log(f"results in {args.json}, service logs in {RUN}")
        finally:
            stack.stop()
            if not args.keep_db:
                with contextlib.suppress(Exception):
                    MongoClient(MONGO, serverSelectionTimeoutMS=5000).drop_database(stack.database)
            for component in started:
                log(f"stopping {component} (started by this run)")
                subprocess.run(
                    [str(INFRA), "stop", component], check=False, stdout=subprocess.DEVNULL
                )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
