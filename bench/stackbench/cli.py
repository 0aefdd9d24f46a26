"""The command line: `bench/stack.py [options]` (`make bench`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import subprocess
import sys
from pathlib import Path

from pymongo import MongoClient

from . import __doc__ as overview
from .lock import e2e_lock
from .machine import code_version, infra_running, make_up_services
from .progress import log
from .runner import measure
from .services import Stack
from .settings import INFRA, KAFKA_TOPICS, MONGO, PORT_BASE, RUN


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(overview or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    parser.add_argument(
        "--conversations",
        type=int,
        help="two-turn SMS conversations of the conversations phase (full 1000, quick 200; 0: "
        "skip it)",
    )
    parser.add_argument(
        "--waiting",
        type=int,
        help="conversations left waiting on a reply beside them (full 10000, quick 1000)",
    )
    parser.add_argument(
        "--conversation-rate", type=float, default=100.0, help="SMS per second at its peak"
    )
    parser.add_argument(
        "--no-conversations",
        dest="conversation_per_trigger",
        action="store_false",
        help="triggers without a conversation id (no conversation, no message log): the "
        "engine's path alone",
    )
    parser.add_argument(
        "--only-conversations",
        action="store_true",
        help="the warm-up, then the conversations phase alone (its costs per message)",
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
    if args.conversations is None:
        args.conversations = 200 if args.quick else 1000
    if args.waiting is None:
        args.waiting = 1000 if args.quick else 10000
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
            # not Prometheus: its scrapes and rule evaluations would be measured with the stack
            for component in ("kafka", "mongo", "stripe"):
                subprocess.run(
                    [str(INFRA), "start", component], check=True, stdout=subprocess.DEVNULL
                )
            log(f"services on ports {PORT_BASE}-{PORT_BASE + 4}, database {stack.database}")
            # the bench's groups start at the end: not behind what other stacks produced
            subprocess.run(
                [sys.executable, str(KAFKA_TOPICS), "--skip-to-end", ",".join(stack.groups)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            stack.code = code_version()
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
