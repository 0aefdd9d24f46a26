"""The five services as processes of this run (and more executors with --executors)."""

from __future__ import annotations

import os
import subprocess
import sys

from servicekit.processes import spawn, stop_services, wait_ready
from servicekit.sealing import KEK_FILE_VARIABLE, KEKS_VARIABLE, dev_key_file

from .settings import ADMIN_TOKEN, KAFKA, MONGO, PORT_BASE, REPO, RUN, SERVICES, Service


class Stack:
    """The five services as processes of this run."""

    def __init__(self, database: str, hook: bool, executors: int = 1) -> None:
        self.database = database
        self.hook = hook
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.code = "?"  # the code the services ran (machine.code_version): set when they start
        # name -> Service; replicas of the executor (stateless: they share its consumer group,
        # Kafka splits the partitions) on ports after the five.
        self.instances: dict[str, Service] = dict(SERVICES)
        for i in range(2, executors + 1):
            self.instances[f"executor-{i}"] = SERVICES["executor"]._replace(offset=3 + i)
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "MONGO_URI": MONGO,
            "MONGO_DATABASE": database,
            "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
            "GATEWAY_EXECUTOR_URL": f"http://127.0.0.1:{PORT_BASE + SERVICES['executor'].offset}",
            "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{PORT_BASE + SERVICES['gateway'].offset}",
            "PYTHONUNBUFFERED": "1",
            # the notifier sends SMS and email to the provider sandbox, which reports their status
            "NOTIFIER_TWILIO_API_BASE_URL": (
                f"http://127.0.0.1:{PORT_BASE + SERVICES['sandbox'].offset}"
            ),
            "NOTIFIER_SLACK_API_BASE_URL": (
                f"http://127.0.0.1:{PORT_BASE + SERVICES['sandbox'].offset}/api/"
            ),
            "NOTIFIER_SENDGRID_API_BASE_URL": (
                f"http://127.0.0.1:{PORT_BASE + SERVICES['sandbox'].offset}"
            ),
            "NOTIFIER_STATUS_CALLBACK_URL": (
                f"http://127.0.0.1:{PORT_BASE + SERVICES['gateway'].offset}/webhooks/twilio/status"
            ),
        }
        self.env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)  # no span export in a benchmark
        if not (self.env.get(KEKS_VARIABLE) or self.env.get(KEK_FILE_VARIABLE)):  # sealed secrets
            self.env[KEK_FILE_VARIABLE] = str(dev_key_file(REPO / ".run" / "dev-keks"))
        for service in SERVICES.values():
            self.env[f"{service.prefix}_PORT"] = str(PORT_BASE + service.offset)
            if service.group is not None:
                self.env[f"{service.prefix}_GROUP_ID"] = service.group
        self.groups = [v for k, v in self.env.items() if k.endswith("_GROUP_ID")]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{PORT_BASE + self.instances[name].offset}"

    def start(self) -> None:
        RUN.mkdir(parents=True, exist_ok=True)
        for name, (module, prefix, offset, *_rest) in self.instances.items():
            log = RUN / f"{name}.log"
            log.unlink(missing_ok=True)
            hooked = [sys.executable, str(REPO / "bench" / "service_hook.py"), module]
            env = {**self.env, f"{prefix}_PORT": str(PORT_BASE + offset)}
            self.processes[name] = spawn(
                module, env, log, command=hooked if self.hook else None, cwd=REPO
            )
        for name, service in self.instances.items():  # all start at once; then each is waited for
            wait_ready(self.processes[name], PORT_BASE + service.offset, RUN / f"{name}.log")

    def stop(self) -> None:
        stop_services(self.processes.values(), timeout=20)
