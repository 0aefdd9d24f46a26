"""A batch's conversation writes as they go to MongoDB: one unconditional update per
conversation (FerretDB runs every statement of a bulk write as a read and a write of its own),
the conditional ones beside it, and a new conversation's changes folded into its insert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from executor.adapters.conversations import ConversationWrites, VariableWrite, merge_update

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = AT + timedelta(seconds=2)


def test_merge_update_keeps_the_later_write_and_the_larger_time() -> None:
    into = {"$set": {"a": 1, "b": 2}, "$max": {"t": AT}}
    merge_update(into, {"$unset": {"a": ""}, "$set": {"c": 3}, "$max": {"t": LATER}})
    assert into == {"$set": {"b": 2, "c": 3}, "$unset": {"a": ""}, "$max": {"t": LATER}}

    # a field both set and raised: one operator on the path, with the larger value
    into = {"$set": {"t": LATER}}
    merge_update(into, {"$max": {"t": AT}})
    assert into == {"$set": {"t": LATER}}
    into = {"$set": {"t": AT}}
    merge_update(into, {"$max": {"t": LATER}})
    assert into == {"$set": {"t": LATER}}

    into = {"$max": {"t": AT}}
    merge_update(into, {"$set": {"t": AT - timedelta(days=1)}})  # a later $set wins
    assert into == {"$set": {"t": AT - timedelta(days=1)}}


def test_a_known_conversations_message_variables_and_reply_are_one_update() -> None:
    writes = ConversationWrites()
    ref = "ten_1:conv-1"
    writes.upsert(
        ref,
        {"contact_address": "+1555"},
        {},
        known=True,
        times={"last_message_at": AT, "last_inbound_at": AT},
    )
    writes.status(ref, "bot", AT)
    writes.variables("ten_1", "conv-1", [VariableWrite("conversation", "count", "2")])
    writes.outbound(ref, LATER)
    writes.run_ended(ref, "wf_1", "exe_1")

    plain, status, ended = writes.conversations
    assert plain.filter == {"_id": ref}
    assert plain.update == {
        "$set": {"contact_address": "+1555", "variables.count": "2"},
        "$max": {
            "last_message_at": LATER,
            "last_inbound_at": AT,
            "last_outbound_at": LATER,
            "updated_at": LATER,
        },
    }
    # the conditional ones keep their own filters, in the order they were planned
    assert status.filter == {"_id": ref, "status": {"$in": ["open", "bot", "waiting_on_customer"]}}
    assert ended.filter == {"_id": ref, "active_runs.wf_1": "exe_1"}


def test_a_new_conversations_reply_is_part_of_its_insert() -> None:
    writes = ConversationWrites()
    ref = "ten_1:conv-1"
    writes.upsert(
        ref,
        {"contact_address": "+1555"},
        {"tenant_id": "ten_1", "status": "open"},
        known=False,
        times={"last_message_at": AT, "last_inbound_at": AT},
    )
    writes.run_started(ref, "wf_1", "exe_1")
    writes.outbound(ref, LATER)

    assert writes.conversations == []  # nothing but the insert
    ((doc, if_existing),) = writes.new_conversations
    assert doc["last_message_at"] == doc["last_outbound_at"] == doc["updated_at"] == LATER
    assert doc["last_inbound_at"] == AT and doc["active_runs"] == {"wf_1": "exe_1"}
    # inserted by a redelivery before: what this trigger changes, and times only forward
    assert if_existing["$max"]["last_message_at"] == AT
