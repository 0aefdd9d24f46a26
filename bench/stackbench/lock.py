"""The machine-wide lock of end-to-end runs, which the bench holds for its whole run."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from .machine import service_processes
from .progress import log
from .settings import LOCK

LOCK_STALE = False  # set when the lock was found orphaned and the run went ahead without it


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
