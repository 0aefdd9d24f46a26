"""The sandbox as a real HTTP server (uvicorn in a thread, a free port), a webhook receiver
playing the tenant's app, and the official twilio SDK pointed at the sandbox."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from provider_sandbox.app import create_app
from provider_sandbox.settings import SandboxSettings
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import Gather, VoiceResponse

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
SEEDED = ("AC" + "5eed" * 8, "seeded-auth-token")


class ThreadedServer:
    """An ASGI app served by uvicorn on 127.0.0.1 and a free port, in a daemon thread."""

    def __init__(self, app: FastAPI) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port: int = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()


@dataclass
class Received:
    method: str
    url: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    body: bytes = b""


@dataclass
class Answer:
    status: int = 200
    body: str = EMPTY_TWIML
    content_type: str = "text/xml"


@dataclass
class Receiver:
    """The tenant's side: records every request, answers the queued Answer for its path (else
    200 with empty TwiML)."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(
        self, path: str, status: int = 200, body: str = EMPTY_TWIML, content_type: str = "text/xml"
    ) -> None:
        """Queue the next answer to a request for `path`."""
        with self.lock:
            self.answers.setdefault(path, []).append(Answer(status, body, content_type))

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.answers.clear()

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(found := self.at(path)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} requests to {path} in {timeout}s")
            time.sleep(0.01)
        return found

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST"])
        async def receive(request: Request) -> Response:
            body = await request.body()  # first: the form is parsed from it after
            form = await request.form()
            received = Received(
                request.method,
                str(request.url),
                request.url.path,
                dict(request.headers),
                {k: v for k, v in form.items() if isinstance(v, str)},
                body,
            )
            with self.lock:
                self.requests.append(received)
                queued = self.answers.get(request.url.path)
                answer = queued.pop(0) if queued else Answer()
            return Response(answer.body, answer.status, media_type=answer.content_type)

        return app


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[Receiver]:
    receiver = Receiver()
    with ThreadedServer(receiver.app()) as server:
        receiver.url = server.url
        yield receiver


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[ThreadedServer]:
    settings = SandboxSettings(
        twilio_accounts=(SEEDED,),
        twilio_delivery_delay_ms=5,
        twilio_callback_retries=2,
        twilio_callback_backoff_ms=10,
        twilio_webhook_timeout_s=5,
        sendgrid_delivery_delay_ms=5,
        sendgrid_webhook_retries=2,
        sendgrid_webhook_backoff_ms=10,
        sendgrid_max_bytes=64 * 1024,
    )
    with ThreadedServer(create_app(settings)) as server:
        yield server


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    receiver_server.reset()
    return receiver_server


@pytest.fixture
def sandbox(sandbox_server: ThreadedServer) -> Iterator[httpx.Client]:
    """The sandbox's HTTP API, reset before each test."""
    with httpx.Client(base_url=sandbox_server.url, timeout=10) as client:
        assert client.delete("/sandbox/twilio").status_code == 200
        yield client


@dataclass(frozen=True)
class TwilioAccount:
    sid: str
    token: str


@pytest.fixture
def account(sandbox: httpx.Client) -> TwilioAccount:
    created = sandbox.post("/sandbox/twilio/accounts", json={})
    assert created.status_code == 201, created.text
    return TwilioAccount(created.json()["account_sid"], created.json()["auth_token"])


def sdk_client(base_url: str, username: str, password: str, **kwargs: Any) -> Client:
    """The recipe of the README: the official client, its api domain's base URL changed."""
    client = Client(username, password, **kwargs)
    client.api.base_url = base_url
    client.messaging.base_url = base_url
    return client


@pytest.fixture
def twilio(sandbox_server: ThreadedServer, account: TwilioAccount) -> Client:
    return sdk_client(sandbox_server.url, account.sid, account.token)


TENANT_NUMBER = "+14155550100"
CUSTOMER = "+14155550199"


@pytest.fixture
def number(twilio: Client, receiver: Receiver) -> Any:
    """The tenant's number, its SmsUrl on the receiver."""
    return twilio.incoming_phone_numbers.create(
        phone_number=TENANT_NUMBER, sms_url=f"{receiver.url}/webhooks/twilio/messages"
    )


def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


# Test modules cannot import this conftest (importlib import mode): helpers come as fixtures.
@pytest.fixture
def client_for(sandbox_server: ThreadedServer) -> Callable[..., Client]:
    """client_for(username, password, **Client kwargs): an SDK client on the sandbox."""
    return lambda username, password, **kwargs: sdk_client(
        sandbox_server.url, username, password, **kwargs
    )


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., None]:
    return wait_until


@dataclass
class Heard:
    """One request the voice app got, and whether its X-Twilio-Signature was Twilio's."""

    path: str
    url: str
    query: dict[str, str]
    form: dict[str, str]
    signed: bool


Answer_ = Callable[[Heard], Response]


def twiml(response: VoiceResponse) -> Response:
    return Response(str(response), media_type="text/xml")


class VoiceApp:
    """The tenant's voice app, shaped like the gateway's voice webhooks: every request verified
    with RequestValidator.validate (403 otherwise), TwiML built with VoiceResponse. The default
    script: Say+Gather (then a Redirect with silent=1), a hold (Pause+Redirect to /voice/wait),
    then Say+Hangup. `answers[path]` replaces a step."""

    def __init__(self) -> None:
        self.url = ""
        self.token = ""
        self.heard: list[Heard] = []
        self.gather_timeout = 30
        self.answers: dict[str, Answer_] = {}

    def reset(self, token: str) -> None:
        self.token = token
        self.heard = []
        self.gather_timeout = 30  # seconds, played SANDBOX_TWILIO_PAUSE_SCALE (0.1) as long
        self.answers = {
            "/voice": self.greet,
            "/voice/gather": self.hold,
            "/voice/wait": self.reply,
            "/voice/status": lambda heard: Response(status_code=204),
        }

    def at(self, path: str) -> list[Heard]:
        return [h for h in self.heard if h.path == path]

    def greet(self, heard: Heard) -> Response:
        response = VoiceResponse()
        gather = Gather(
            input="speech dtmf",
            action=f"{self.url}/voice/gather?turn=1",
            method="POST",
            timeout=self.gather_timeout,
            speech_timeout="auto",
        )
        gather.say("Hi, this is Acme. How can I help?")
        response.append(gather)
        response.redirect(f"{self.url}/voice/gather?turn=1&silent=1", method="POST")
        return twiml(response)

    def hold(self, heard: Heard) -> Response:
        response = VoiceResponse()
        if heard.query.get("silent"):
            response.say("We did not hear you. Goodbye.")
            response.hangup()
            return twiml(response)
        response.pause(length=1)
        wait = f"{self.url}/voice/wait?answers={heard.form['CallSid']}:1&hold=1"
        response.redirect(wait, method="POST")
        return twiml(response)

    def reply(self, heard: Heard) -> Response:
        said = self.at("/voice/gather")[-1].form.get("SpeechResult", "nothing")
        response = VoiceResponse()
        response.say(f"You said: {said}. Your order ships tomorrow. Goodbye.")
        response.hangup()
        return twiml(response)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/{path:path}", methods=["GET", "POST"])
        async def receive(request: Request) -> Response:
            form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
            url = str(request.url)
            signature = request.headers.get("x-twilio-signature", "")
            heard = Heard(
                request.url.path,
                url,
                dict(request.query_params),
                form,
                RequestValidator(self.token).validate(url, form, signature),
            )
            self.heard.append(heard)
            if not heard.signed:
                return Response("forged", status_code=403)
            answer = self.answers.get(request.url.path)
            return answer(heard) if answer else Response(status_code=404)

        return app


@pytest.fixture(scope="session")
def voice_server() -> Iterator[VoiceApp]:
    voice = VoiceApp()
    with ThreadedServer(voice.app()) as server:
        voice.url = server.url
        yield voice


@pytest.fixture
def voice(voice_server: VoiceApp, account: TwilioAccount) -> VoiceApp:
    """The voice app (its default script, nothing heard), verifying with the test account's
    token."""
    voice_server.reset(account.token)
    return voice_server


@pytest.fixture
def voice_number(twilio: Client, voice: VoiceApp) -> Any:
    """The tenant's number: VoiceUrl and StatusCallback on the voice app."""
    return twilio.incoming_phone_numbers.create(
        phone_number=TENANT_NUMBER,
        voice_url=f"{voice.url}/voice",
        status_callback=f"{voice.url}/voice/status",
    )
