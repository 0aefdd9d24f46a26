"""Who gets a conversation: the agent router's decisions, without I/O.

A tenant's assignments are decided by one consumer at a time (the agent routing topic is keyed
by tenant), one request after another on a ``Board``: the tenant's agents, their load (their
active assignments) and when each was last given a conversation. So two requests never both
take an agent's last free place: the second sees the first's assignment on the board.

- Eligible: online, below capacity, taking the conversation's channel (an agent who lists no
  channels takes all), a member of the queue (when the request names one).
- ``round_robin``: the eligible agent given a conversation longest ago (never: first).
- ``least_busy``: the lowest load against capacity, then as round robin.
- ``skill_based``: agents with every skill asked for (and one of the languages, when asked),
  then as least busy.
- ``specific``: that agent, when eligible.

Nobody fits: the request waits in its queue (``queued``), ordered by priority (VIP, negative
sentiment, an SLA at risk first), then by age, and is assigned by ``drain`` when an agent frees
up or comes online.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

Document = dict[str, Any]
STRATEGIES = ("round_robin", "least_busy", "skill_based", "specific")
ONLINE = "online"
QUEUED, ACTIVE, RELEASED = "queued", "active", "released"


@dataclass(frozen=True, slots=True)
class Agent:
    id: str
    name: str
    capacity: int
    status: str
    skills: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Agent:
        return cls(
            id=str(doc["agent_id"]),
            name=str(doc.get("name") or doc["agent_id"]),
            capacity=int(doc.get("capacity") or 0),
            status=str(doc.get("status") or "offline"),
            skills=_lowered(doc.get("skills")),
            languages=_lowered(doc.get("languages")),
            channels=_lowered(doc.get("channels")),
        )


@dataclass(frozen=True, slots=True)
class Queue:
    id: str
    name: str
    members: tuple[str, ...]
    strategy: str = "round_robin"

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Queue:
        return cls(
            id=str(doc["queue_id"]),
            name=str(doc.get("name") or doc["queue_id"]),
            members=tuple(str(m) for m in doc.get("members") or ()),
            strategy=str(doc.get("strategy") or "round_robin"),
        )


@dataclass(frozen=True, slots=True)
class Ask:
    """What a request asks for (an Assign Agent or a takeover), as stored on its assignment."""

    queue: str | None
    agent_id: str | None
    strategy: str
    skills: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    channel: str | None = None
    priority: int = 0

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> Ask:
        return cls(
            queue=doc.get("queue"),
            agent_id=doc.get("requested_agent_id"),
            strategy=str(doc.get("strategy") or "round_robin"),
            skills=_lowered(doc.get("skills")),
            languages=_lowered(doc.get("languages")),
            channel=doc.get("channel"),
            priority=int(doc.get("priority") or 0),
        )


@dataclass(frozen=True, slots=True)
class Choice:
    agent: Agent | None
    reason: str


@dataclass
class Board:
    """A tenant's agents as the router sees them while it decides a batch."""

    agents: dict[str, Agent]
    queues: dict[str, Queue]
    load: Counter[str] = field(default_factory=Counter)
    last_assigned: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        agents: Iterable[Mapping[str, Any]],
        queues: Iterable[Mapping[str, Any]],
        active: Iterable[Mapping[str, Any]],
        last_assigned: Mapping[str, datetime],
    ) -> Board:
        board = cls(
            agents={a.id: a for a in map(Agent.of, agents)},
            queues={q.id: q for q in map(Queue.of, queues)},
            last_assigned=dict(last_assigned),
        )
        for assignment in active:
            if assignment.get("agent_id"):
                board.load[str(assignment["agent_id"])] += 1
        return board

    def choose(self, ask: Ask) -> Choice:
        """The agent ``ask`` goes to now, or None and why nobody fits."""
        queue = self.queues.get(ask.queue) if ask.queue else None
        if ask.strategy == "specific" or (ask.agent_id and not ask.queue):
            agent = self.agents.get(ask.agent_id or "")
            if agent is None:
                return Choice(None, f"agent {ask.agent_id} is not an agent of the tenant")
            refusal = self._refusal(agent, ask, queue=None)
            if refusal:
                return Choice(None, f"{agent.name} {refusal}")
            return Choice(agent, f"specific: {agent.name} asked for by name")
        pool = [self.agents[m] for m in queue.members if m in self.agents] if queue else []
        if queue is None:
            pool = list(self.agents.values())
        where = f"queue {queue.name}" if queue else "the tenant"
        eligible = [a for a in pool if not self._refusal(a, ask, queue)]
        strategy = ask.strategy
        if strategy == "skill_based":
            eligible = [a for a in eligible if ask.skills <= a.skills]
            if ask.languages:
                eligible = [a for a in eligible if ask.languages & a.languages]
        if not eligible:
            return Choice(None, f"nobody in {where} is online with capacity{_wanting(ask)}")
        if strategy == "round_robin":
            agent = min(eligible, key=self._longest_ago)
            reason = f"round robin: assigned longest ago of {len(eligible)} available in {where}"
        else:
            agent = min(
                eligible, key=lambda a: (self.load[a.id] / a.capacity, *self._longest_ago(a))
            )
            label = "skills" if strategy == "skill_based" else "least busy"
            reason = (
                f"{label}: {self.load[agent.id]} of {agent.capacity} conversations, the least "
                f"loaded of {len(eligible)} available in {where}{_wanting(ask)}"
            )
        return Choice(agent, reason)

    def take(self, agent: Agent, at: datetime) -> None:
        self.load[agent.id] += 1
        self.last_assigned[agent.id] = at

    def release(self, agent_id: str | None) -> None:
        if agent_id and self.load[agent_id] > 0:
            self.load[agent_id] -= 1

    def _refusal(self, agent: Agent, ask: Ask, queue: Queue | None) -> str | None:
        if agent.status != ONLINE:
            return f"is {agent.status}"
        if self.load[agent.id] >= agent.capacity:
            return f"is at capacity ({agent.capacity})"
        if ask.channel and agent.channels and ask.channel.lower() not in agent.channels:
            return f"does not take {ask.channel}"
        if queue is not None and agent.id not in queue.members:
            return f"is not in queue {queue.name}"
        return None

    def _least_busy(self, agent: Agent) -> tuple[float, float, str]:
        return (self.load[agent.id] / agent.capacity, *self._longest_ago(agent))

    def _longest_ago(self, agent: Agent) -> tuple[float, str]:
        at = self.last_assigned.get(agent.id)
        return (at.timestamp() if at else float("-inf"), agent.id)


def in_turn(queued: Iterable[Document]) -> list[Document]:
    """Queued assignments in the order they get an agent: priority first, then age."""
    return sorted(queued, key=lambda q: (-int(q.get("priority") or 0), q["requested_at"], q["_id"]))


def priority_of(request: Mapping[str, Any]) -> int:
    """A request's priority: the node's (low 0, normal 1, high 2, urgent 3, or a number),
    else what the request says of the customer: VIP, negative sentiment or an SLA at risk
    raise it."""
    named = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
    given = request.get("priority")
    if isinstance(given, int | float) and not isinstance(given, bool):
        return int(given)
    if isinstance(given, str) and given.lower() in named:
        return named[given.lower()]
    priority = 1
    signals = request.get("signals") or {}
    if signals.get("vip"):
        priority += 1
    if signals.get("negativeSentiment") or signals.get("slaAtRisk"):
        priority += 1
    return priority


def _wanting(ask: Ask) -> str:
    parts = []
    if ask.strategy == "skill_based" and ask.skills:
        parts.append("skills " + ", ".join(sorted(ask.skills)))
    if ask.strategy == "skill_based" and ask.languages:
        parts.append("language " + " or ".join(sorted(ask.languages)))
    return f" with {' and '.join(parts)}" if parts else ""


def _lowered(values: Any) -> frozenset[str]:
    return frozenset(str(v).strip().lower() for v in values or () if str(v).strip())
