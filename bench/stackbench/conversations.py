"""The conversations phase: two-turn SMS conversations over the signed Twilio webhook, with
many other conversations waiting on a reply meanwhile.

Setup: a tenant of its own, its Twilio account and number in the provider sandbox (the number's
SmsUrl the gateway's messaging webhook), and the workflow Incoming Message -> Send Reply (a
question) -> Wait for Reply -> Send Reply (thanks). Then `--waiting` conversations (chat, through
the API) are each left waiting at the Wait for Reply. Measured: `--conversations` customers
each send a first SMS (one every 2/rate s), and their second 10 s after their first, so in the
middle of the phase the gateway takes `--conversation-rate` messages/s. Each SMS is signed as
Twilio signs (the SDK's RequestValidator) and sent on a fixed schedule (open loop).

Latency: from the scheduled send to the reply's arrival at the sandbox (the first entry of
its status history: the moment the notifier's `messages.create` reached it): the first reply
(the trigger: webhook, executor, notifier, Twilio API), and the second (the resume: the
waiting execution found by its conversation, resumed, its reply sent)."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import datetime
from typing import Any

import httpx
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from .meter import SECONDS, Meter, Snapshot
from .progress import log
from .results import percentile
from .services import Stack
from .settings import ADMIN_TOKEN, CLK_TCK

TENANT_NUMBER = "+15005550100"
SECOND_AFTER = 10.0
ASK = "What is your order number?"


def workflow() -> dict[str, Any]:
    nodes = [
        {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
        {"id": "ask", "type": "action", "label": "Send Reply", "config": {"message": ASK}},
        {
            "id": "wait",
            "type": "advanced",
            "label": "Wait for Reply",
            "config": {"timeoutSeconds": 3600},
        },
        {
            "id": "thanks",
            "type": "action",
            "label": "Send Reply",
            "config": {"message": "Thanks, order {{workflow.reply.text}}"},
        },
    ]
    edges = [
        {"id": "e1", "source": "t", "target": "ask"},
        {"id": "e2", "source": "ask", "target": "wait"},
        {"id": "e3", "source": "wait", "target": "thanks"},
    ]
    return {"name": "Bench SMS", "triggerType": "Incoming Message", "nodes": nodes, "edges": edges}


class Conversations:
    def __init__(self, stack: Stack, conversations: int, waiting: int, rate: float) -> None:
        self.stack = stack
        self.conversations = conversations
        self.waiting = waiting
        self.rate = rate
        self.gateway = stack.url("gateway")
        self.sandbox = stack.url("sandbox")
        self.webhook = f"{self.gateway}/webhooks/twilio/messages"
        self.sent: dict[str, float] = {}  # customer number + turn -> scheduled wall time

    async def setup(self, http: httpx.AsyncClient) -> None:
        created = await http.post(
            f"{self.gateway}/v1/tenants",
            json={"name": "Bench SMS"},
            headers={"X-Admin-Token": ADMIN_TOKEN},
        )
        created.raise_for_status()
        self.auth = {"Authorization": f"Bearer {created.json()['api_key']}"}
        account = (await http.post(f"{self.sandbox}/sandbox/twilio/accounts", json={})).json()
        self.account_sid, self.token = account["account_sid"], account["auth_token"]
        number = await http.post(
            f"{self.sandbox}/2010-04-01/Accounts/{self.account_sid}/IncomingPhoneNumbers.json",
            data={"PhoneNumber": TENANT_NUMBER, "SmsUrl": self.webhook},
            auth=(self.account_sid, self.token),
        )
        number.raise_for_status()
        connected = await http.put(
            f"{self.gateway}/v1/channels/twilio",
            json={
                "account_sid": self.account_sid,
                "auth_token": self.token,
                "numbers": [{"phone_number": TENANT_NUMBER}],
            },
            headers=self.auth,
        )
        connected.raise_for_status()
        saved = await http.post(f"{self.gateway}/v1/workflows", json=workflow(), headers=self.auth)
        saved.raise_for_status()
        wf = saved.json()["id"]
        (
            await http.post(f"{self.gateway}/v1/workflows/{wf}/activate", headers=self.auth)
        ).raise_for_status()

    async def park(self, http: httpx.AsyncClient) -> float:
        """The other conversations, each left waiting at the Wait for Reply (through the API,
        on chat: their question goes to the replies topic). Seconds until all are waiting."""
        started = time.perf_counter()
        gate = asyncio.Semaphore(32)

        async def one(i: int) -> None:
            async with gate:
                answer = await http.post(
                    f"{self.gateway}/v1/events/incoming_message",
                    json={
                        "conversation_id": f"parked-{i}",
                        "channel": "chat",
                        "payload": {"text": "hi"},
                    },
                    headers=self.auth,
                )
                answer.raise_for_status()

        await asyncio.gather(*(one(i) for i in range(self.waiting)))
        mongo_deadline = time.perf_counter() + 300
        while time.perf_counter() < mongo_deadline:
            waiting = self.stack_db().conversations.count_documents(
                {"status": "waiting_on_customer"}
            )
            if waiting >= self.waiting:
                break
            await asyncio.sleep(1)
        return time.perf_counter() - started

    def stack_db(self) -> Any:
        from pymongo import MongoClient

        from .settings import MONGO

        client: MongoClient[Any] = MongoClient(MONGO)
        return client[self.stack.database]

    def _signed(self, customer: str, body: str) -> tuple[dict[str, str], str]:
        params = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "SmsSid": "",
            "AccountSid": self.account_sid,
            "From": customer,
            "To": TENANT_NUMBER,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        params["SmsSid"] = params["MessageSid"]
        signature = RequestValidator(self.token).compute_signature(self.webhook, params)
        return params, signature

    async def run(self, http: httpx.AsyncClient) -> dict[str, Any]:
        """Send on schedule; then read what arrived at the sandbox."""
        customers = [f"+1555{i:07d}" for i in range(self.conversations)]
        spacing = 2.0 / self.rate  # first turns at rate/2, second turns at rate/2
        start = time.time() + 0.5
        schedule = [(start + i * spacing, c, 1) for i, c in enumerate(customers)]
        schedule += [(t + SECOND_AFTER, c, 2) for t, c, _ in schedule]
        schedule.sort()
        failures = 0
        late = 0.0

        async def send(at: float, customer: str, turn: int) -> None:
            nonlocal failures, late
            delay = at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            late = max(late, time.time() - at)
            self.sent[f"{customer}:{turn}"] = at
            params, signature = self._signed(customer, f"A{turn}-{customer[-4:]}")
            answer = await http.post(
                self.webhook, data=params, headers={"X-Twilio-Signature": signature}
            )
            if answer.status_code != 200:
                failures += 1

        await asyncio.gather(*(send(at, c, turn) for at, c, turn in schedule))
        arrivals = await self._arrivals(http, customers)
        first = [arrivals[c][0] - self.sent[f"{c}:1"] for c in customers if len(arrivals[c]) > 0]
        second = [arrivals[c][1] - self.sent[f"{c}:2"] for c in customers if len(arrivals[c]) > 1]
        return {
            "conversations": self.conversations,
            "waiting_beside": self.waiting,
            "messages_per_s": self.rate,
            "webhook_failures": failures,
            "sender_max_late_ms": round(late * 1000, 1),
            "first_reply_ms": _percentiles(first),
            "resume_reply_ms": _percentiles(second),
            "replies_missing": 2 * self.conversations - len(first) - len(second),
        }

    async def _arrivals(
        self, http: httpx.AsyncClient, customers: list[str]
    ) -> dict[str, list[float]]:
        """When each customer's replies reached the sandbox, waiting up to 60 s for them."""
        deadline = time.time() + 60
        arrivals: dict[str, list[float]] = {}
        while True:
            listed = await http.get(
                f"{self.sandbox}/sandbox/twilio/messages",
                params={"account_sid": self.account_sid, "direction": "outbound-api"},
                timeout=60,
            )
            arrivals = {c: [] for c in customers}
            for message in listed.json()["messages"]:
                if message["to"] in arrivals:
                    at = datetime.fromisoformat(message["status_history"][0]["at"]).timestamp()
                    arrivals[message["to"]].append(at)
            if all(len(a) >= 2 for a in arrivals.values()) or time.time() > deadline:
                return {c: sorted(a) for c, a in arrivals.items()}
            # the sandbox keeps each arrival's time: polling seldom loses no precision, and
            # listing every message often loaded the stack it measures
            await asyncio.sleep(3)


def _percentiles(seconds: list[float]) -> dict[str, float | None]:
    ordered = sorted(x * 1000 for x in seconds)
    if not ordered:
        return {"p50": None, "p99": None, "max": None}
    return {
        q: round(percentile(ordered, v), 1)
        for q, v in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
    }


def costs(
    before: Snapshot, after: Snapshot, messages: int, idle: dict[str, float]
) -> dict[str, Any]:
    """What each customer's message cost over the measured part (sends, replies, their status
    callbacks): CPU ms by process above what it spends idle (``idle``: % of a core, the
    meter's calibration), MongoDB commands by service (and ms each), Kafka records by topic."""
    span = after.at - before.at
    cpu = {}
    for name, ticks in after.cpu.items():
        first = before.cpu.get(name)
        if ticks is None or first is None:
            continue
        spent = (ticks - first) / CLK_TCK - idle.get(name, 0.0) / 100 * span
        cpu[name] = round(max(0.0, spent) * 1000 / messages, 2)
    mongo: dict[str, dict[str, list[float]]] = {}
    for service, counts in after.mongo_by_service.items():
        earlier = before.mongo_by_service.get(service, {})
        for key, value in counts.items():
            if key.endswith(SECONDS):
                continue
            n = value - earlier.get(key, 0.0)
            if n / messages >= 0.01:
                seconds = counts.get(key + SECONDS, 0.0) - earlier.get(key + SECONDS, 0.0)
                mongo.setdefault(service, {})[key] = [
                    round(n / messages, 2),
                    round(seconds / n * 1000, 2),
                ]
    kafka = {
        topic: round((end - before.offsets.get(topic, 0)) / messages, 2)
        for topic, end in after.offsets.items()
        if end > before.offsets.get(topic, 0)
    }
    return {"cpu_ms": cpu, "mongo": mongo, "kafka": kafka}


def print_costs(spent: dict[str, Any]) -> None:
    cpu = spent["cpu_ms"]
    print(
        f"\nconversations: CPU ms per customer message above idle, {sum(cpu.values()):.1f} in all:"
    )
    for name, ms in sorted(cpu.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<34} {ms:6.2f}")
    print("conversations: MongoDB commands per customer message by service (ms each):")
    for service, commands in spent["mongo"].items():
        for key, (n, ms) in sorted(commands.items(), key=lambda kv: -kv[1][0]):
            print(f"  {service:<13} {key:<36} {n:5.2f}  {ms:6.2f} ms")
    print("conversations: Kafka records per customer message by topic:")
    for topic, n in sorted(spent["kafka"].items()):
        print(f"  {topic:<40} {n:5.2f}")


async def measure_conversations(
    stack: Stack, meter: Meter, conversations: int, waiting: int, rate: float
) -> dict[str, Any]:
    phase = Conversations(stack, conversations, waiting, rate)
    # Idle connections dropped after 2 s: uvicorn closes them after 5 s, and a request sent on
    # one it is closing fails (httpx.ReadError) between the first and the second turns.
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64, keepalive_expiry=2)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        await phase.setup(http)
        log(f"conversations: parking {waiting} conversations at a Wait for Reply")
        parked = await phase.park(http)
        log(
            f"conversations: {waiting} waiting after {parked:.0f} s; {conversations} two-turn "
            f"SMS conversations at {rate:g} msg/s"
        )
        before = await meter.snapshot()
        result = await phase.run(http)
        await asyncio.sleep(1.0)  # the last replies' status callbacks
        spent = costs(before, await meter.snapshot(), 2 * conversations, meter.idle_cpu)
    result["parking_s"] = round(parked, 1)
    result["per_message"] = spent
    print_costs(spent)
    first, second = result["first_reply_ms"], result["resume_reply_ms"]
    log(
        f"conversations: first reply p50 {first.get('p50')} / p99 {first.get('p99')} ms, "
        f"resumed reply p50 {second.get('p50')} / p99 {second.get('p99')} ms, "
        f"missing {result['replies_missing']}, webhook failures {result['webhook_failures']}"
    )
    return result
