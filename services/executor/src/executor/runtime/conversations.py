"""What a trigger does to its conversation, and what an execution starts from.

A trigger that names a conversation upserts it (channel, addresses, last message time; a closed
conversation reopens on the customer's next message) and logs the customer's message; the
executions it starts read the conversation's and the tenant's persisted variables and the
contact found by the customer's address (``customer``). All of a batch's reads are done at once
(``ConversationIntake.load``), its writes with the batch's flush (``ConversationWrites``)."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contracts.conversations import (
    address_ref,
    conversation_ref,
    decoded_variables,
    inbound_message_id,
)
from contracts.events import InboundMessage, TriggerReceived

from executor.adapters.conversations import (
    ConversationRepository,
    ConversationWrites,
    reply_waits,
)

Document = dict[str, Any]
INCOMING_MESSAGE = "Incoming Message"
PHONE_CHANNELS = ("sms", "whatsapp", "voice")


@dataclass(frozen=True)
class Scopes:
    """What an execution of a trigger starts from besides the trigger itself."""

    conversation: Document
    tenant: Document
    customer: Document | None


def message_of(trigger: TriggerReceived) -> InboundMessage | None:
    """The customer's message a trigger carries: the channel's, or for a message posted to
    the API with a conversation id, one made from its payload and customer."""
    if trigger.message is not None:
        return trigger.message
    if trigger.trigger_type != INCOMING_MESSAGE or not trigger.conversation_id:
        return None
    payload, customer = trigger.payload, trigger.customer or {}
    body = next((payload[k] for k in ("text", "message", "body") if k in payload), "")
    address = next((customer[k] for k in ("phone", "email", "id") if customer.get(k)), None)
    return InboundMessage(
        contact_address=str(address or trigger.conversation_id),
        body=body if isinstance(body, str) else str(body),
        provider="api",
    )


def _addresses(trigger: TriggerReceived) -> list[str]:
    """The contact-index refs that may name the trigger's customer, most specific first."""
    tenant, customer = trigger.tenant_id, trigger.customer or {}
    refs = []
    if customer.get("id"):
        refs.append(address_ref(tenant, "external_id", str(customer["id"])))
    message = trigger.message
    if message is not None:
        kind = "phone" if trigger.channel in PHONE_CHANNELS else "email"
        if trigger.channel in (*PHONE_CHANNELS, "email"):
            refs.append(address_ref(tenant, kind, message.contact_address))
    for kind in ("email", "phone"):
        if customer.get(kind):
            refs.append(address_ref(tenant, kind, str(customer[kind])))
    return refs


def profile(contact: Document) -> Document:
    """A contact as ``customer`` shows it (the product guide's fields)."""
    fields = {
        "id": contact["_id"],
        "name": contact.get("name"),
        "email": contact.get("email"),
        "phone": contact.get("phone"),
        "externalId": contact.get("external_id"),
        "metadata": contact.get("attributes") or {},
        "tags": contact.get("tags") or [],
    }
    return {k: v for k, v in fields.items() if v is not None}


@dataclass
class Loaded:
    """A batch's conversations, tenant variables and contacts, read at once."""

    conversations: dict[str, Document]
    tenants: dict[str, Document]
    contacts: dict[str, Document]
    assumed_new: set[str] = field(default_factory=set)  # not read: planned as new

    def scopes(self, trigger: TriggerReceived) -> Scopes:
        stored = None
        if trigger.conversation_id:
            stored = self.conversations.get(
                conversation_ref(trigger.tenant_id, trigger.conversation_id)
            )
        contact = next((self.contacts[r] for r in _addresses(trigger) if r in self.contacts), None)
        customer = trigger.customer
        if contact is not None:
            customer = {**profile(contact), **(customer or {})}
        return Scopes(
            conversation=decoded_variables((stored or {}).get("variables")),
            tenant=self.tenants.get(trigger.tenant_id, {}),
            customer=customer,
        )

    def active_runs(self, trigger: TriggerReceived) -> dict[str, str]:
        """The conversation's runs by workflow (one per workflow: the latest it started)."""
        if not trigger.conversation_id:
            return {}
        stored = self.conversations.get(
            conversation_ref(trigger.tenant_id, trigger.conversation_id)
        )
        return dict((stored or {}).get("active_runs") or {})

    def status(self, trigger: TriggerReceived) -> str | None:
        """The status the conversation had before this batch's messages (with_agent, ...)."""
        if not trigger.conversation_id:
            return None
        ref = conversation_ref(trigger.tenant_id, trigger.conversation_id)
        return (self.conversations.get(ref) or {}).get("status")

    def reply_waits(self, trigger: TriggerReceived) -> list[Document]:
        """The waits in the trigger's conversation, oldest first."""
        if not trigger.conversation_id:
            return []
        return reply_waits(
            self.conversations.get(conversation_ref(trigger.tenant_id, trigger.conversation_id))
        )

    def run_started(
        self, writes: ConversationWrites, trigger: TriggerReceived, workflow_id: str, run: str
    ) -> None:
        assert trigger.conversation_id is not None
        ref = conversation_ref(trigger.tenant_id, trigger.conversation_id)
        writes.run_started(ref, workflow_id, run)
        stored = self.conversations.setdefault(ref, {"_id": ref})
        stored["active_runs"] = {**(stored.get("active_runs") or {}), workflow_id: run}

    def record(
        self,
        writes: ConversationWrites,
        trigger: TriggerReceived,
        classification: Document | None = None,
    ) -> None:
        """The trigger's conversation upserted and its message logged with its
        ``classification`` (before the executions it starts set the status their runs leave
        it in)."""
        if not trigger.conversation_id:
            return
        ref = conversation_ref(trigger.tenant_id, trigger.conversation_id)
        at = trigger.received_at
        message = message_of(trigger)
        fields: Document = {}
        on_insert: Document = {
            "tenant_id": trigger.tenant_id,
            "conversation_id": trigger.conversation_id,
            "channel": trigger.channel,
            "tags": [],
            "assignee": None,
            "created_at": at,
        }
        stored = self.conversations.get(ref)
        if ref in self.assumed_new:
            writes.assumed_new.add(ref)
        reopened = False
        if stored is None:
            on_insert.update(status="open", status_at=at, status_log=[{"status": "open", "at": at}])
        elif stored.get("status") == "closed" and message is not None:
            fields.update(status="open", reopened_at=at)  # the customer wrote again
            reopened = True
        contact = next((self.contacts[r] for r in _addresses(trigger) if r in self.contacts), None)
        if contact is not None:
            fields["contact_id"] = contact["_id"]
        times: Document = {}
        if message is not None:
            times.update(last_message_at=at, last_inbound_at=at)
            fields.update(
                contact_address=message.contact_address, tenant_address=message.tenant_address
            )
            logged = inbound_record(trigger, message)
            if classification is not None:
                logged["classification"] = classification
            writes.messages.append(logged)
        else:
            on_insert["last_message_at"] = at  # listings sort by it: never missing
        # The channel is the conversation's since its first message (a call's follow-up SMS is
        # another conversation): only set on insert.
        writes.upsert(ref, fields, on_insert, known=stored is not None, times=times)
        if reopened:
            writes.log_status(ref, "open", at)
        # Kept in memory for later triggers of this batch (a second message reopens nothing).
        self.conversations[ref] = {
            **(stored or {}),
            "_id": ref,
            "status": fields.get("status", (stored or {}).get("status", "open")),
        }


def reply_of(trigger: TriggerReceived) -> Document:
    """A customer's message as a Wait for Reply receives it."""
    return {
        **trigger.payload,
        "channel": trigger.channel,
        "receivedAt": trigger.received_at.isoformat(),
        "triggerId": trigger.trigger_id,
    }


def inbound_record(trigger: TriggerReceived, message: InboundMessage) -> Document:
    """The customer's message in the conversation's log; its id derives from the trigger's,
    so a redelivered trigger logs it once."""
    return {
        "_id": inbound_message_id(trigger.trigger_id),
        "tenant_id": trigger.tenant_id,
        "conversation_id": trigger.conversation_id,
        "direction": "inbound",
        "channel": trigger.channel,
        "body": message.body,
        "media": [m.model_dump() for m in message.media],
        "from": message.contact_address,
        "to": message.tenant_address,
        "provider": message.provider,
        "provider_message_id": message.provider_message_id,
        "status": "received",
        "status_history": [{"status": "received", "at": trigger.received_at}],
        "trigger_id": trigger.trigger_id,
        "created_at": trigger.received_at,
        **({"subject": message.subject} if message.subject is not None else {}),
    }


class ConversationIntake:
    def __init__(self, conversations: ConversationRepository) -> None:
        self._conversations = conversations

    async def load(self, triggers: list[TriggerReceived]) -> Loaded:
        """The batch's conversations and its customers' contacts."""
        refs = {
            conversation_ref(t.tenant_id, t.conversation_id) for t in triggers if t.conversation_id
        }
        # The ones this process has not seen are planned as new, unread (the flush finds out
        # if one was not: ConversationsExisted, and the batch is planned again).
        seen = {r for r in refs if self._conversations.known(r)}
        conversations, contacts = await asyncio.gather(
            self._conversations.conversations(seen), self._contacts(triggers)
        )
        return Loaded(conversations, {}, contacts, assumed_new=refs - seen)

    async def _contacts(self, triggers: list[TriggerReceived]) -> dict[str, Document]:
        """The contacts of the triggers' addresses, for the tenants that have contacts."""
        tenants = sorted({t.tenant_id for t in triggers})
        having = await asyncio.gather(*(self._conversations.has_contacts(t) for t in tenants))
        with_contacts = {t for t, has in zip(tenants, having, strict=True) if has}
        refs = {r for t in triggers if t.tenant_id in with_contacts for r in _addresses(t)}
        return await self._conversations.contacts(refs) if refs else {}

    async def load_tenants(self, loaded: Loaded, tenants: set[str]) -> None:
        """The tenant variables of ``tenants`` (those whose workflows read ``global.*``)."""
        if tenants:
            loaded.tenants.update(await self._conversations.tenant_variables(tenants))


def said_record(doc: Document, text: str, index: int, at: datetime) -> Document:
    """What a phone call said to the caller, in the conversation's log (one per <Say>)."""
    call = doc["call"]
    digest = hashlib.sha256(f"{doc['_id']}:{call['answered']}:{index}".encode()).hexdigest()
    return {
        "_id": "msg_" + digest[:24],
        "tenant_id": doc["tenant_id"],
        "conversation_id": doc.get("conversation_id"),
        "direction": "outbound",
        "channel": "voice",
        "body": text,
        "media": [],
        "provider": "twilio",
        "provider_message_id": call["sid"],
        "status": "sent",
        "status_history": [{"status": "sent", "at": at}],
        "execution_id": doc["_id"],
        "created_at": at,
    }
