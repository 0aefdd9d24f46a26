"""The notifier on the kit's in-memory broker, with its real repositories on an in-memory MongoDB
that runs the operations they send (inserts, finds with $in/$ne/$lt/$lte/$gte on fields and
dotted paths, updates with $set, $push, $addToSet and $max, bulk writes with their matched
count) and counts the commands; a Twilio stand-in that records what it is asked to send; the
real provider sandbox on a free port for the SDK tests."""

from __future__ import annotations

import asyncio
import copy
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from contracts import Envelope, topics
from contracts.events import (
    DeliveryStatusReported,
    Event,
    NotificationRequested,
)
from notifier.adapters.attachments import AttachmentFetcher
from notifier.adapters.conversations import ConversationUpdates
from notifier.adapters.email_threads import EmailThreads
from notifier.adapters.messages import MessageLog
from notifier.adapters.sendgrid_accounts import SendGridAccount, SendGridAccounts
from notifier.adapters.store import NotificationRepository
from notifier.adapters.twilio_accounts import TwilioAccount, TwilioAccounts
from notifier.adapters.twilio_client import SendFailed, SentMessage
from notifier.app import NAME
from notifier.chatops_sending import ChatOpsSending
from notifier.delivery_status import DeliveryStatus
from notifier.domain.outbound import Outbound
from notifier.email_sending import EmailSending
from notifier.handlers.kafka import consume
from notifier.sending import TwilioSending
from notifier.service import NotificationService
from notifier.settings import Settings
from pymongo.errors import BulkWriteError, DuplicateKeyError
from servicekit.sealing import Kek, Keyring
from servicekit.service import Kit
from servicekit.testing import MemoryBroker, running

Document = dict[str, Any]
TENANT = "ten_1"
ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "f" * 32
TENANT_NUMBER = "+14155550100"
CUSTOMER = "+14155550199"
CALLBACK = "http://gateway.test/webhooks/twilio/status"
KEYRING = Keyring([Kek("test1", bytes(range(32)))])
SENDGRID_KEY = "SG.testkeytestkey.secretsecretsecretsecret"
INBOUND = "help@reply.acme.test"


# -- an in-memory MongoDB for the notifier's repositories -----------------------------------


def _get(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for name in path.split("."):
        value = value.get(name) if isinstance(value, Mapping) else None
    return value


def _matches(doc: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    for name, wanted in query.items():
        value = _get(doc, name)
        values = value if isinstance(value, list) else [value]
        if isinstance(wanted, dict) and any(k.startswith("$") for k in wanted):
            for op, operand in wanted.items():
                if op == "$in" and not any(v in operand for v in values):
                    return False
                if op == "$nin" and any(v in operand for v in values):
                    return False
                if op == "$ne" and operand in values:
                    return False
                if op == "$lt" and not (value is not None and value < operand):
                    return False
                if op == "$lte" and not (value is not None and value <= operand):
                    return False
                if op == "$gte" and not (value is not None and value >= operand):
                    return False
        elif wanted not in values:
            return False
    return True


def _updated(doc: Document, update: Mapping[str, Any]) -> Document:
    new = copy.deepcopy(doc)
    for op, fields in update.items():
        for name, value in fields.items():
            if op == "$set":
                *parents, last = name.split(".")
                target = new
                for parent in parents:
                    target = target.setdefault(parent, {})
                target[last] = copy.deepcopy(value)
            elif op == "$max":
                if name not in new or new[name] < value:
                    new[name] = value
            elif op == "$push":
                items = value["$each"] if isinstance(value, dict) and "$each" in value else [value]
                new.setdefault(name, []).extend(copy.deepcopy(items))
            elif op == "$addToSet":
                items = value["$each"] if isinstance(value, dict) and "$each" in value else [value]
                target = new.setdefault(name, [])
                target.extend(i for i in items if i not in target)
            else:
                raise NotImplementedError(op)
    return new


@dataclass(frozen=True)
class UpdateResult:
    modified_count: int


@dataclass(frozen=True)
class BulkResult:
    matched_count: int


class Cursor:
    def __init__(self, docs: list[Document]) -> None:
        self._docs = docs

    def __aiter__(self) -> AsyncIterator[Document]:
        async def each() -> AsyncIterator[Document]:
            for doc in self._docs:
                yield doc

        return each()

    async def to_list(self, length: int | None = None) -> list[Document]:
        return self._docs[:length] if length else list(self._docs)


class Collection:
    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self.docs: dict[Any, Document] = {}
        self.refuse: set[Any] = set()  # ids whose insert fails (a document the server refuses)

    async def _command(self, kind: str, docs: list[Document] | None = None) -> None:
        self.db.commands.append((self.name, kind))
        if self.db.hold is not None:
            await self.db.hold.wait()
        if any(d.get("_id") in self.refuse for d in docs or []):
            raise ValueError("document refused")

    async def create_index(self, *args: Any, **kwargs: Any) -> str:
        return "index"

    async def insert_one(self, doc: Document) -> None:
        await self._command("insert", [doc])
        if doc["_id"] in self.docs:
            raise DuplicateKeyError(f"E11000 duplicate key {doc['_id']!r}")
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def insert_many(self, docs: list[Document], ordered: bool = True) -> None:
        await self._command("insert", docs)
        self._inserts(docs)

    def _inserts(self, docs: list[Document]) -> None:
        errors = []
        for index, doc in enumerate(docs):
            if doc["_id"] in self.docs:
                errors.append({"index": index, "code": 11000})
            else:
                self.docs[doc["_id"]] = copy.deepcopy(doc)
        if errors:
            raise BulkWriteError({"writeErrors": errors})

    async def bulk_write(self, ops: list[Any], ordered: bool = True) -> BulkResult:
        inserted = [op._doc for op in ops if type(op).__name__ == "InsertOne"]
        await self._command("bulk_write", inserted)
        self.db.bulk_ops.append((self.name, [type(op).__name__ for op in ops]))
        errors = []
        matched = 0
        for index, op in enumerate(ops):
            if type(op).__name__ == "InsertOne":
                try:
                    self._inserts([op._doc])
                except BulkWriteError:
                    errors.append({"index": index, "code": 11000})
                continue
            assert type(op).__name__ == "UpdateOne" and not op._upsert
            found = next((d for d in self.docs.values() if _matches(d, op._filter)), None)
            if found is not None:
                matched += 1
                self.docs[found["_id"]] = _updated(found, op._doc)
        if errors:
            raise BulkWriteError({"writeErrors": errors})
        return BulkResult(matched)

    async def update_one(self, query: Document, update: Document, upsert: bool = False) -> Any:
        await self._command("update")
        found = next((d for d in self.docs.values() if _matches(d, query)), None)
        if found is None and upsert:
            found = self.docs[query["_id"]] = {"_id": query["_id"]}
        if found is not None:
            self.docs[found["_id"]] = _updated(found, update)
        return UpdateResult(modified_count=int(found is not None))

    def find(
        self,
        query: Document,
        projection: Document | None = None,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
    ) -> Cursor:
        self.db.commands.append((self.name, "find"))
        docs = [copy.deepcopy(d) for d in self.docs.values() if _matches(d, query)]
        for name, direction in reversed(sort or []):
            docs.sort(key=lambda d, n=name: d.get(n), reverse=direction < 0)
        docs = docs[:limit] if limit else docs
        if projection:
            dropped = {k for k, v in projection.items() if not v}
            kept = {k for k, v in projection.items() if v}
            shown = [
                {k: v for k, v in d.items() if k not in dropped}
                if not kept
                else {k: v for k, v in d.items() if k in kept or k == "_id"}
                for d in docs
            ]
            docs = shown
        return Cursor(docs)

    async def find_one(self, query: Document) -> Document | None:
        await self._command("find")
        return next((copy.deepcopy(d) for d in self.docs.values() if _matches(d, query)), None)


class Database:
    def __init__(self) -> None:
        self.commands: list[tuple[str, str]] = []
        self.bulk_ops: list[tuple[str, list[str]]] = []  # each bulk write's operations
        self.collections: dict[str, Collection] = {}
        self.hold: asyncio.Event | None = None  # commands wait for it when set

    def __getattr__(self, name: str) -> Collection:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> Collection:
        if name not in self.collections:
            self.collections[name] = Collection(self, name)
        return self.collections[name]


class Mongo:
    """The kit's MongoDB (servicekit.service.Storage) on a Database."""

    def __init__(self) -> None:
        self.memory = Database()

    @property
    def db(self) -> Any:
        return self.memory

    async def reachable(self) -> bool:
        return True

    async def is_ferretdb(self) -> bool:
        return False

    async def close(self) -> None:
        return None


# -- Twilio, as the notifier's sender sees it ----------------------------------------------


@dataclass
class Sent:
    account_sid: str
    to: str
    from_: str
    body: str
    media: list[str]
    status_callback: str | None


@dataclass
class FakeTwilio:
    """Accepts every message (sid SM + a counter, status queued) unless ``refuse`` names the
    recipient: then raises what is given for it. With ``answer`` set, its answer waits for it
    (Twilio has the message, the notifier has not heard back yet)."""

    sent: list[Sent] = field(default_factory=list)
    refuse: dict[str, SendFailed] = field(default_factory=dict)
    answer: asyncio.Event | None = None

    async def send(
        self, account: TwilioAccount, outbound: Outbound, status_callback: str | None
    ) -> SentMessage:
        assert outbound.to and outbound.from_
        self.sent.append(
            Sent(
                account.account_sid,
                outbound.to,
                outbound.from_,
                outbound.body,
                [m.url for m in outbound.media],
                status_callback,
            )
        )
        sid = f"SM{len(self.sent):032d}"
        if self.answer is not None:
            await self.answer.wait()
        if outbound.to in self.refuse:
            raise self.refuse[outbound.to]
        return SentMessage(sid=sid, status="queued")


@dataclass
class FakeSendGrid:
    """Accepts every email (X-Message-Id ``xmsg`` + a counter) unless ``refuse`` names its
    first recipient: then raises what is given for it."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    refuse: dict[str, SendFailed] = field(default_factory=dict)

    async def send(self, account: SendGridAccount, body: dict[str, Any]) -> str:
        self.sent.append(body)
        to = body["personalizations"][0]["to"][0]["email"]
        if to in self.refuse:
            raise self.refuse[to]
        return f"xmsg{len(self.sent)}"


def _files(request: httpx.Request) -> httpx.Response:
    """Attachments by URL: http://files.test/<name> is 'content of <name>' (big: 2 KiB)."""
    name = request.url.path.strip("/")
    if name == "big.bin":
        return httpx.Response(200, content=b"x" * 2048)
    if name == "missing.pdf":
        return httpx.Response(404)
    return httpx.Response(
        200, content=f"content of {name}".encode(), headers={"content-type": "application/pdf"}
    )


# -- the notifier under test ---------------------------------------------------------------


class Notifier:
    tenant = TENANT
    account_sid = ACCOUNT_SID
    tenant_number = TENANT_NUMBER
    customer = CUSTOMER
    callback = CALLBACK

    def __init__(
        self,
        one_by_one: bool = False,
        wait_seconds: float = 5,
        chatops: Callable[[Any, NotificationRepository], ChatOpsSending] | None = None,
    ) -> None:
        """``one_by_one``: the repositories read as on FerretDB (equality, not ``$in``);
        ``wait_seconds``: how long a report waits for its message's send to be answered;
        ``chatops``: makes the Slack and Teams sending from the database and the records."""
        self.broker = MemoryBroker()
        self.mongo = Mongo()
        self.twilio = FakeTwilio()
        self.sendgrid = FakeSendGrid()
        self.kit = Kit(
            NAME,
            Settings(handling_attempts=1),
            mongo=self.mongo,
            publisher=self.broker.publisher(),
            kafka_consumer=self.broker.consumer,
        )
        db = self.mongo.db
        notifications = NotificationRepository(db, one_by_one=one_by_one)
        messages = MessageLog(db, one_by_one=one_by_one)
        conversations = ConversationUpdates(db, one_by_one=one_by_one)
        self.status = DeliveryStatus(
            messages, conversations, self.kit.publish, wait_seconds=wait_seconds
        )
        self.sending = TwilioSending(
            TwilioAccounts(db, KEYRING, ttl_seconds=0, one_by_one=one_by_one),
            conversations,
            messages,
            self.twilio,
            status_callback_url=CALLBACK,
        )
        email = EmailSending(
            SendGridAccounts(db, KEYRING, ttl_seconds=0, one_by_one=one_by_one),
            EmailThreads(db),
            conversations,
            messages,
            self.sendgrid,
            AttachmentFetcher(
                timeout_seconds=5,
                max_bytes=1024,
                allow_private=True,
                transport=httpx.MockTransport(_files),
            ),
        )
        service = NotificationService(
            notifications,
            messages,
            conversations,
            self.sending,
            self.kit.publish,
            chatops=chatops(db, notifications) if chatops is not None else None,
            email=email,
        )
        consume(self.kit, service, self.status)

    @property
    def db(self) -> Database:
        return self.mongo.memory

    def connect_twilio(self, *numbers: str, whatsapp: bool = False, tenant: str = TENANT) -> None:
        """The tenant's account as the gateway stores it."""
        sealed = KEYRING.seal(AUTH_TOKEN, tenant_id=tenant, purpose="twilio.auth_token")
        self.db.twilio_accounts.docs[tenant] = {
            "_id": tenant,
            "account_sid": ACCOUNT_SID,
            "auth_token": sealed.to_document(),
        }
        for number in numbers or (TENANT_NUMBER,):
            self.db.phone_numbers.docs[number] = {
                "_id": number,
                "tenant_id": tenant,
                "whatsapp": whatsapp,
            }

    def connect_sendgrid(self, tenant: str = TENANT, inbound: str | None = INBOUND) -> None:
        """The tenant's SendGrid channel as the gateway stores it."""
        sealed = KEYRING.seal(SENDGRID_KEY, tenant_id=tenant, purpose="sendgrid.api_key")
        self.db.sendgrid_channels.docs[tenant] = {
            "_id": tenant,
            "api_key": sealed.to_document(),
            "from_email": "support@acme.test",
            "from_name": "Acme",
            "inbound_address": inbound,
        }

    def conversation(
        self, conversation_id: str, contact: str = CUSTOMER, tenant_address: str = TENANT_NUMBER
    ) -> Document:
        """A conversation as the executor creates it for an inbound SMS."""
        ref = f"{TENANT}:{conversation_id}"
        doc = {
            "_id": ref,
            "tenant_id": TENANT,
            "conversation_id": conversation_id,
            "channel": "sms",
            "contact_address": contact,
            "tenant_address": tenant_address,
            "last_message_at": datetime(2026, 1, 1, tzinfo=UTC),
        }
        self.db.conversations.docs[ref] = doc
        return doc

    @staticmethod
    def request(
        n: int = 1,
        *,
        channel: str = "chat",
        kind: str = "action.send_reply",
        request: Document | None = None,
        awaits_result: bool = False,
        conversation_id: str | None = "",
    ) -> NotificationRequested:
        """A request as the executor makes it (Send Reply by default)."""
        return NotificationRequested(
            idempotency_key=f"exe_{n}:reply:1:1",
            execution_id=f"exe_{n}",
            tenant_id=TENANT,
            effect_id="reply:1:1",
            node_id="reply",
            kind=kind,
            channel=channel,
            conversation_id=f"conv-{n}" if conversation_id == "" else conversation_id,
            request=request if request is not None else {"message": f"Hello Ada {n}"},
            awaits_result=awaits_result,
        )

    def send(self, event: NotificationRequested) -> None:
        envelope = Envelope.wrap(event, source="/test", tenant_id=event.tenant_id)
        self.broker.send(topics.NOTIFICATION_REQUESTS, envelope, key=event.execution_id.encode())

    def report(
        self,
        sid: str,
        status: str,
        error_code: str | None = None,
        tenant: str = TENANT,
        message_id: str | None = None,
    ) -> None:
        """A status callback as the gateway publishes it (for the tenant whose account signed
        it; ``message_id``: the message its URL names, None for a URL naming none)."""
        event = DeliveryStatusReported(
            tenant_id=tenant,
            provider="twilio",
            provider_message_id=sid,
            message_id=message_id,
            status=status,
            error_code=error_code,
            reported_at=datetime.now(UTC),
            event_id=f"twilio:{sid}:{status}",
        )
        envelope = Envelope.wrap(event, source="/test", tenant_id=tenant)
        self.broker.send(topics.DELIVERY_STATUS, envelope, key=sid.encode())

    def events(self, topic: str, kind: type[Event] | None = None) -> list[Any]:
        found = self.broker.events(topic)
        return [e for e in found if kind is None or isinstance(e, kind)]

    def messages(self) -> list[Document]:
        return list(self.db.messages.docs.values())

    async def run(self) -> None:
        """Everything sent so far handled."""
        async with running(self.kit):
            await self.broker.idle()


@pytest.fixture
def make_notifier() -> Callable[..., Notifier]:
    """Notifier(...), for tests that assemble it with more (Slack and Teams stand-ins)."""
    return Notifier


@pytest.fixture(params=[False, True], ids=["in", "one_by_one"])
def notifier(request: pytest.FixtureRequest) -> Notifier:
    """The notifier reading as on MongoDB (``$in``) and as on FerretDB (one by one)."""
    return Notifier(one_by_one=request.param)


# -- the real provider sandbox -------------------------------------------------------------


class ThreadedServer:
    """An ASGI app served by uvicorn on 127.0.0.1 and a free port, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
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


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    """The provider sandbox (deploy/local/sandbox) as a real HTTP server; its Twilio rate
    limit low enough for a test to reach it."""
    from provider_sandbox.app import create_app
    from provider_sandbox.settings import SandboxSettings

    settings = SandboxSettings(twilio_rps=20, twilio_delivery_delay_ms=5)
    with ThreadedServer(create_app(settings)) as server:
        yield server.url


@pytest.fixture
def memory_db() -> Database:
    """An empty in-memory MongoDB (the agent router's tests)."""
    return Database()
