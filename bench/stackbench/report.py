"""The report printed at the end of a run, and the summary that goes to .run/bench/last.json."""

from __future__ import annotations

import argparse
import math
import os
from typing import TYPE_CHECKING, Any

from . import lock
from .machine import postmaster_pid
from .meter import SECONDS
from .phases import Phase
from .results import keeps_up
from .settings import LOCK
from .workload import NODE_RUNS_PER_WORKFLOW, NODES_PER_WORKFLOW

if TYPE_CHECKING:
    from .runner import Bench


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
        f"FerretDB on {'PostgreSQL' if postmaster_pid() else 'SQLite'}; code {bench.stack.code}\n"
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
    if lock.LOCK_STALE:
        print(f"note: {LOCK} was orphaned; this run went ahead without it (see --strict-lock)")

    # CPU per process: % of one core, and ms per workflow, per phase.
    names = list(bench.meter.cpu_readers)
    rows = []
    for name in names:
        row = [name, fmt(bench.meter.idle_cpu.get(name))]
        for r in results:
            cpu = r["cpu"].get(name)
            row.append(
                f"{fmt(cpu['percent'], 0)}% {fmt(cpu['ms_per_workflow'], 2)}" if cpu else "-"
            )
        rows.append(row)
    total = ["total", fmt(sum(bench.meter.idle_cpu.values()))]
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
        print(
            "MongoDB commands per workflow by service, and ms each, sent to answered (pymongo "
            "listener, bench/service_hook.py):"
        )
        for service, counts in heaviest["mongo_by_service"].items():
            commands = {k: n for k, n in counts.items() if not k.endswith(SECONDS)}
            for key, n in sorted(commands.items(), key=lambda kv: -kv[1]):
                per = n / max(1, heaviest["completed"])
                ms = counts.get(key + SECONDS, 0.0) / n * 1000 if n else 0.0
                if per >= 0.01:
                    print(f"  {service:<13} {key:<32} {per:5.2f}  {ms:6.2f} ms")

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
        "code": bench.stack.code,
        "phases": results,
        "idle_cpu_percent": bench.meter.idle_cpu,
        "background_mongo_per_s": bench.meter.background,
    }
    return summary
