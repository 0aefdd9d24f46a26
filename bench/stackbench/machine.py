"""What runs on this machine: other stacks' services, the infrastructure, the code version."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

from .settings import INFRA, REPO, SERVICES

MODULES = {service.module for service in SERVICES.values()}


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
    for name, (module, *_rest, listed_as) in SERVICES.items():
        pid = read_pid(REPO / ".run" / "services" / f"{listed_as}.pid")
        if pid is None:
            continue
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if module.encode() in cmdline:
                running.append(name)
    return running
