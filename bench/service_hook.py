"""Run one service exactly as `python -m <module>`, plus a MongoDB command counter on /metrics.

    python bench/service_hook.py executor

`make bench` starts the services through this file so it can tell which service sends which
MongoDB commands without changing any service: a pymongo CommandListener registered globally
(`pymongo.monitoring.register`, which every client created afterwards picks up) counts each
command by name and collection, and the seconds it took (sent to answered, as the driver saw
it), into Prometheus counters in the default registry, which every service already serves at
`/metrics`:

    connectflo_bench_mongo_commands_total{command="insert",collection="executions"} 1234.0
    connectflo_bench_mongo_seconds_total{command="insert",collection="executions"} 0.93

Connection monitoring (hello, ping, endSessions) is not counted. The cost is one event object and
two counter increments per command (a few microseconds).
"""

from __future__ import annotations

import runpy
import sys
from typing import Any

from prometheus_client import Counter
from pymongo import monitoring

NOT_COUNTED = frozenset({"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo"})

COMMANDS = Counter(
    "connectflo_bench_mongo_commands",
    "MongoDB commands sent by this process (counted by bench/service_hook.py)",
    ["command", "collection"],
)
SECONDS = Counter(
    "connectflo_bench_mongo_seconds",
    "Seconds MongoDB commands of this process took, sent to answered (bench/service_hook.py)",
    ["command", "collection"],
)


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self._children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._keys: dict[tuple[int, Any], tuple[str, str]] = {}  # (request id, connection)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        if name in NOT_COUNTED:
            return
        target = event.command.get(name)
        key = (name, target if isinstance(target, str) else "")
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (COMMANDS.labels(*key), SECONDS.labels(*key))
        children[0].inc()
        self._keys[(event.request_id, event.connection_id)] = key

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._done(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._done(event)

    def _done(self, event: Any) -> None:
        key = self._keys.pop((event.request_id, event.connection_id), None)
        if key is not None:
            self._children[key][1].inc(event.duration_micros / 1e6)


if __name__ == "__main__":
    module = sys.argv[1]
    monitoring.register(CommandCounter())
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
