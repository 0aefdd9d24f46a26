"""The turns of the phone calls this process is answering.

Twilio waits on an HTTP answer (at most 15 s) while the execution that decides it runs
elsewhere: every gateway process tails `connectflo.calls.v1` (servicekit.tail: every
partition, from the end, no group) and hands each CallTurn to the request waiting for it here,
or keeps it a few minutes for the request that comes for it later (Twilio's redirect after a
hold). A request registers what it waits for before its trigger is published, so a turn that
comes back fast is not missed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict

from contracts.events import CallTurn
from pydantic import ValidationError
from servicekit.delivery import Consumed

log = logging.getLogger(__name__)
KEEP_SECONDS = 600.0
KEEP_MAX = 10_000


class CallTurns:
    def __init__(self) -> None:
        self._waiting: dict[str, list[asyncio.Future[CallTurn]]] = {}
        self._recent: OrderedDict[str, tuple[CallTurn, float]] = OrderedDict()

    def expect(self, answers: str) -> asyncio.Future[CallTurn]:
        """A future for the turn answering ``answers`` (done at once if it came already)."""
        future: asyncio.Future[CallTurn] = asyncio.get_running_loop().create_future()
        known = self._known(answers)
        if known is not None:
            future.set_result(known)
        else:
            self._waiting.setdefault(answers, []).append(future)
        return future

    async def wait(
        self, answers: str, future: asyncio.Future[CallTurn], seconds: float
    ) -> CallTurn | None:
        """The turn, or None after ``seconds`` (the caller is then put on hold)."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), seconds)
        except TimeoutError:
            return None
        finally:
            waiting = self._waiting.get(answers)
            if waiting is not None:
                with contextlib.suppress(ValueError):
                    waiting.remove(future)
                if not waiting:
                    del self._waiting[answers]

    async def on_records(self, records: list[Consumed]) -> None:
        for record in records:
            if record.headers.get("ce_type") != CallTurn.event_type:
                continue
            try:
                turn = CallTurn.model_validate_json(record.value)
            except ValidationError:
                log.warning("an undecodable CallTurn at %s:%s", record.partition, record.offset)
                continue
            self._keep(turn)
            for future in self._waiting.pop(turn.answers, []):
                if not future.done():
                    future.set_result(turn)

    def _known(self, answers: str) -> CallTurn | None:
        kept = self._recent.get(answers)
        if kept is None or kept[1] < time.monotonic():
            return None
        return kept[0]

    def _keep(self, turn: CallTurn) -> None:
        self._recent[turn.answers] = (turn, time.monotonic() + KEEP_SECONDS)
        self._recent.move_to_end(turn.answers)
        while len(self._recent) > KEEP_MAX:
            self._recent.popitem(last=False)
