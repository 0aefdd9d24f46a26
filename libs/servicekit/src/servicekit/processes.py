"""A service as a process of a test, fuzz or benchmark run: ``python -m <module>`` with its
output in a log file, ready when its ``/readyz`` answers 2xx.

    process = start_service("integrations", env, port=19083, log=RUN / "integrations.log")

The end-to-end tests, ``make fuzz`` and the benchmarks start services this one way, so a
service that dies while starting says why the same way everywhere: its log's last lines."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import httpx

TAIL_CHARS = 4000


class StartFailed(RuntimeError):
    """The process exited, or did not become ready in time, while starting."""


def start_service(
    module: str,
    env: Mapping[str, str],
    port: int,
    log: Path,
    *,
    command: Sequence[str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60.0,
) -> subprocess.Popen[bytes]:
    """Start ``module`` (or ``command``), appending its output to ``log``, and wait until it is
    ready on 127.0.0.1:``port``; StartFailed with the log's tail otherwise (the process is
    killed if it still runs)."""
    process = spawn(module, env, log, command=command, cwd=cwd)
    try:
        wait_ready(process, port, log, timeout)
    except StartFailed:
        stop_services([process], timeout=0)
        raise
    return process


def spawn(
    module: str,
    env: Mapping[str, str],
    log: Path,
    *,
    command: Sequence[str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``module`` without waiting (start several, then ``wait_ready`` each)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:  # the child holds its own descriptor
        return subprocess.Popen(
            list(command or [sys.executable, "-m", module]),
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
        )


def wait_ready(
    process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartFailed(
                f"{log.stem} exited with {process.returncode} while starting:\n{tail(log)}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).is_success:
                return
        time.sleep(0.2)
    raise StartFailed(f"{log.stem} not ready after {timeout:g}s:\n{tail(log)}")


def tail(log: Path, chars: int = TAIL_CHARS) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return "(no log)"


def stop_services(processes: Iterable[subprocess.Popen[bytes]], timeout: float = 15.0) -> None:
    """SIGTERM to all at once (each drains and commits), then SIGKILL what outlives ``timeout``."""
    started = list(processes)
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
