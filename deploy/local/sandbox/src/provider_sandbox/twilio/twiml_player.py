"""Twilio's side of a phone call: request the number's VoiceUrl, play the TwiML answer verb by
verb (Say, Play, Pause, Gather, Redirect, Hangup, Enqueue, Dial), request the next document a
`<Redirect>` or a `<Gather>`'s answer points to, and when the call ends POST its status
callback. Each call plays in its own task; the caller's side (answers, hang-up) comes in
through `answer` and `hang_up`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from fastapi import HTTPException

from .calls import STATUS_CALLBACK, CallerInput, call_params, gather_params, status_callback_params
from .state import Call, TwilioState
from .voice_twiml import APOLOGY, ApplicationError, VoiceVerb, read_answer
from .webhooks import Signing, WebhookSender

log = logging.getLogger(__name__)
HANDOVER = ("Enqueue", "Dial")
NESTED_IN_GATHER = ("Say", "Play", "Pause")
ENDED = ("completed", "failed", "ended")


class CallerHungUp(Exception):
    """The caller (or the REST API) ended the call while Twilio was playing it."""


@dataclass(frozen=True)
class VoiceTarget:
    """Where a number's calls are requested: captured when the call comes in."""

    url: str
    method: str
    fallback_url: str
    fallback_method: str


@dataclass(frozen=True)
class Document:
    url: str  # relative `action` and `<Redirect>` URLs resolve against it
    verbs: list[VoiceVerb]


@dataclass(frozen=True)
class GatherSpec:
    """What the `<Gather>` in progress takes from the caller."""

    inputs: frozenset[str]
    num_digits: int | None
    finish_on_key: str


@dataclass
class CallRun:
    call: Call
    target: VoiceTarget
    signing: Signing
    task: asyncio.Task[None] | None = None
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    heard: asyncio.Future[CallerInput] | None = None
    gather: GatherSpec | None = None
    ender: str = "caller"
    settled: bool = False  # ended, and its status callback answered (or given up)
    stopped: bool = False  # forgotten by a reset


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _absolute(base: str, url: str) -> str:
    resolved = str(httpx.URL(urljoin(base, url)))
    parts = urlsplit(resolved)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApplicationError(11100, f"Invalid URL format: {url!r}", base)
    return resolved


class CallPlayer:
    def __init__(
        self,
        state: TwilioState,
        sender: WebhookSender,
        *,
        pause_scale: float,
        gather_timeout_scale: float,
        callback_retries: int,
    ) -> None:
        self.state = state
        self.sender = sender
        self.pause_scale = pause_scale
        self.gather_timeout_scale = gather_timeout_scale
        self.callback_retries = callback_retries
        self._runs: dict[str, CallRun] = {}

    # the caller's side

    def start(self, call: Call, target: VoiceTarget, signing: Signing) -> None:
        run = CallRun(call, target, signing)
        self._runs[call.sid] = run
        run.task = asyncio.get_running_loop().create_task(self._play_call(run))

    def answer(self, sid: str, heard: CallerInput) -> None:
        """The caller answers the `<Gather>` in progress (409 when there is none)."""
        run = self._run(sid)
        if run.heard is None or run.heard.done() or run.gather is None:
            raise HTTPException(409, f"the call {sid} is {run.call.state}, not at a <Gather>")
        spec = run.gather
        if heard.speech is not None and "speech" not in spec.inputs:
            raise HTTPException(422, f"the <Gather> takes {' '.join(sorted(spec.inputs))} only")
        if heard.digits is not None:
            if "dtmf" not in spec.inputs:
                raise HTTPException(422, "the <Gather> takes speech only")
            keyed = self._keyed(heard.digits, spec)
            heard = CallerInput(digits=keyed) if keyed else CallerInput()
        run.heard.set_result(heard)
        run.call.move_to("in-progress")
        self._changed(run)

    def hang_up(self, sid: str, by: str = "caller") -> None:
        run = self._run(sid)
        if run.call.ended:
            raise HTTPException(409, f"the call {sid} has already ended")
        run.ender = by
        run.hung_up.set()

    async def wait_for(self, sid: str, wanted: str, timeout_s: float) -> None:
        """Until the call is in state `wanted` (`ended`: completed or failed, its status
        callback sent), has ended for good, or `timeout_s` has passed."""
        run = self._run(sid)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self._reached(run, wanted):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                await asyncio.wait_for(run.changed.wait(), remaining)
            except TimeoutError:
                return

    async def stop(self) -> None:
        """Forget every call (a reset, or the sandbox stopping): no callbacks are sent."""
        runs = list(self._runs.values())
        self._runs.clear()
        for run in runs:
            run.stopped = True
            run.changed.set()
            if run.task is not None:
                run.task.cancel()
        await asyncio.gather(*(r.task for r in runs if r.task), return_exceptions=True)

    def _run(self, sid: str) -> CallRun:
        run = self._runs.get(sid)
        if run is None:
            raise HTTPException(404, f"no call {sid}")
        return run

    @staticmethod
    def _keyed(digits: str, spec: GatherSpec) -> str:
        """Twilio stops at the first finishOnKey (not sent) or after numDigits keys."""
        cut = next((i for i, key in enumerate(digits) if key in spec.finish_on_key), len(digits))
        digits = digits[:cut]
        return digits if spec.num_digits is None else digits[: spec.num_digits]

    @staticmethod
    def _reached(run: CallRun, wanted: str) -> bool:
        if run.stopped or (run.call.ended and run.settled):
            return True
        return wanted not in ENDED and run.call.state == wanted

    @staticmethod
    def _changed(run: CallRun) -> None:
        previous, run.changed = run.changed, asyncio.Event()
        previous.set()

    # Twilio's side

    async def _play_call(self, run: CallRun) -> None:
        call = run.call
        try:
            document: Document | None = await self._fetch(
                run, "incoming-call", run.target.url, run.target.method, call_params(call)
            )
            while document is not None:
                document = await self._play(run, document)
            self._end(run, "completed")
        except CallerHungUp:
            call.ended_by = run.ender
            self._end(run, "completed")
        except ApplicationError as exc:
            self._fail(run, exc)
        except Exception as exc:  # a sandbox bug: the call must still end, and say why
            log.exception("playing the call %s", call.sid)
            self._fail(run, ApplicationError(12400, f"Internal failure in the sandbox: {exc}"))
        await self._status_callback(run)
        run.settled = True
        self._changed(run)

    async def _fetch(
        self, run: CallRun, kind: str, url: str, method: str, params: dict[str, str]
    ) -> Document:
        """The TwiML at `url`; the number's VoiceFallbackUrl (with ErrorCode and ErrorUrl) when
        it cannot be had or read."""
        call = run.call
        account = self.state.accounts.get(call.account_sid)
        if account is None:
            raise ApplicationError(20003, f"the account {call.account_sid} is gone", url)
        record = await self.sender.send(
            kind=kind,
            call_sid=call.sid,
            url=url,
            method=method,
            params=params,
            auth_token=account.auth_token,
            signing=run.signing,
        )
        if run.hung_up.is_set():
            raise CallerHungUp
        try:
            verbs = read_answer(url, record.status, record.content_type, record.body, record.error)
        except ApplicationError as exc:
            fallback = run.target.fallback_url
            if kind == "incoming-call-fallback" or not fallback:
                raise
            told = params | {"ErrorCode": str(exc.code), "ErrorUrl": url}
            method = run.target.fallback_method
            return await self._fetch(run, "incoming-call-fallback", fallback, method, told)
        if call.state == "ringing":
            call.move_to("in-progress")
            self._changed(run)
        return Document(url, verbs)

    async def _play(self, run: CallRun, document: Document) -> Document | None:
        """Plays the document's verbs: the next document to play, or None when the call ends."""
        call = run.call
        for verb in document.verbs:
            if verb.name in NESTED_IN_GATHER:
                await self._say_play_or_pause(run, verb)
            elif verb.name == "Redirect":
                url = _absolute(document.url, verb.text)
                method = verb.attributes.get("method", "POST").upper()
                self._record(run, "redirect", verb, url=url, method=method)
                return await self._fetch(run, "redirect", url, method, call_params(call))
            elif verb.name == "Gather":
                next_document = await self._gather(run, document, verb)
                if next_document is not None:
                    return next_document
            elif verb.name == "Hangup":
                self._record(run, "hangup", verb)
                call.ended_by = "hangup"
                return None
            elif verb.name in HANDOVER:
                self._handover(run, verb)
                call.ended_by = "handed-over"
                return None
            else:
                self._record(run, verb.name.lower(), verb, text=verb.text, unsupported=True)
        call.ended_by = "end-of-twiml"
        return None

    async def _say_play_or_pause(self, run: CallRun, verb: VoiceVerb, **extra: Any) -> None:
        if verb.name == "Say":
            self._record(run, "say", verb, text=verb.text, **extra)
        elif verb.name == "Play":
            self._record(run, "play", verb, url=verb.text, **extra)
        else:
            length = _int(verb.attributes.get("length"), 1)
            self._record(run, "pause", verb, length=length, **extra)
            await self._hold(run, length * self.pause_scale)

    async def _gather(self, run: CallRun, document: Document, verb: VoiceVerb) -> Document | None:
        """Says what it holds, waits for the caller; the action's document when the caller
        answered (or `actionOnEmptyResult`), None to go on with the verbs after it."""
        attributes = verb.attributes
        action = _absolute(document.url, attributes.get("action") or document.url)
        method = attributes.get("method", "POST").upper()
        inputs = attributes.get("input", "dtmf")
        timeout = _int(attributes.get("timeout"), 5)
        entry = self._record(
            run, "gather", verb, action=action, method=method, input=inputs, timeout=timeout
        )
        entry["caller"] = None
        for nested in verb.children:
            if nested.name in NESTED_IN_GATHER:
                await self._say_play_or_pause(run, nested, within="gather")
        run.gather = GatherSpec(
            inputs=frozenset(inputs.split()),
            num_digits=_int(attributes.get("numDigits"), 0) or None,
            finish_on_key=attributes.get("finishOnKey", "#"),
        )
        heard = await self._listen(run, timeout * self.gather_timeout_scale)
        if heard is None or heard.silent:
            entry["timed_out"] = True
            if attributes.get("actionOnEmptyResult", "false").lower() != "true":
                return None
            heard = CallerInput()
        else:
            entry["caller"] = heard.to_json()
        params = gather_params(run.call, heard)
        return await self._fetch(run, "gather-action", action, method, params)

    async def _listen(self, run: CallRun, timeout_s: float) -> CallerInput | None:
        """The caller's answer, or None after `timeout_s` of silence."""
        heard = run.heard = asyncio.get_running_loop().create_future()
        run.call.move_to("at_gather")
        self._changed(run)
        hang_up = asyncio.ensure_future(run.hung_up.wait())
        try:
            await asyncio.wait(
                {heard, hang_up}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            hang_up.cancel()
            run.heard, run.gather = None, None
        if run.hung_up.is_set():
            raise CallerHungUp
        if run.call.state == "at_gather":
            run.call.move_to("in-progress")
            self._changed(run)
        return heard.result() if heard.done() else None

    async def _hold(self, run: CallRun, seconds: float) -> None:
        try:
            await asyncio.wait_for(run.hung_up.wait(), seconds)
        except TimeoutError:
            return
        raise CallerHungUp

    def _handover(self, run: CallRun, verb: VoiceVerb) -> None:
        """The call leaves the TwiML: to a queue's agents or another party, not modelled."""
        if verb.name == "Enqueue":
            self._record(run, "enqueue", verb, queue=verb.text)
            return
        nouns = [
            {"noun": noun.name.lower(), **noun.attributes, "value": noun.text}
            for noun in verb.children
        ]
        self._record(run, "dial", verb, number=verb.text or None, nouns=nouns)

    @staticmethod
    def _record(run: CallRun, name: str, verb: VoiceVerb, **effective: Any) -> dict[str, Any]:
        """A transcript entry: the verb's attributes as written, and what Twilio made of them."""
        entry: dict[str, Any] = {"verb": name, **verb.attributes, **effective}
        run.call.transcript.append(entry)
        return entry

    def _end(self, run: CallRun, state: str) -> None:
        if not run.call.ended:
            run.call.move_to(state)
            self._changed(run)

    def _fail(self, run: CallRun, error: ApplicationError) -> None:
        run.call.error = error.to_json()
        run.call.ended_by = "application-error"
        run.call.transcript.append(
            {"verb": "say", "text": APOLOGY, "by": "twilio", "error": error.code}
        )
        self._end(run, "failed")

    async def _status_callback(self, run: CallRun) -> None:
        call = run.call
        account = self.state.accounts.get(call.account_sid)
        if not call.status_callback or account is None:
            return
        try:
            await self.sender.send(
                kind=STATUS_CALLBACK,
                call_sid=call.sid,
                url=call.status_callback,
                method=call.status_callback_method,
                params=status_callback_params(call, sequence=0),
                auth_token=account.auth_token,
                signing=run.signing,
                retries=self.callback_retries,
            )
        except Exception:  # a sandbox bug must not leave the call unsettled
            log.exception("status callback of the call %s", call.sid)
