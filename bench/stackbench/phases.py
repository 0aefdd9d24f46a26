"""The phases of a run (idle, closed N, sustain, open R/s) and the samples each collects."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

from .meter import Snapshot


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
