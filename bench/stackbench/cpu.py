"""CPU per process: utime + stime from /proc/<pid>/stat, in clock ticks."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from pathlib import Path


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
