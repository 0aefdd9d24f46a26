"""Actions: the requests they make, what they store on the result, and their config checks."""

import pytest
from executor.domain.nodes.actions import (
    add_tag,
    ai_generate,
    assign_agent,
    end_chat,
    send_email,
    send_reply,
    set_variable,
)
from executor.domain.nodes.contract import NodeFailed
from pydantic import ValidationError


async def test_send_reply_requests_the_message_on_the_trigger_channel(node_ctx):
    config = send_reply.Config.model_validate({"message": "Hi Ann", "quickReplies": ["Yes"]})

    outcome = await send_reply.execute(
        node_ctx(payload={"channel": "sms", "conversationId": "c1"}), config
    )

    assert outcome.request == {
        "channel": "sms",
        "message": "Hi Ann",
        "conversationId": "c1",
        "quickReplies": ["Yes"],
    }


async def test_send_reply_turns_a_structured_value_into_text(node_ctx):
    config = send_reply.Config.model_validate({"message": {"a": 1}, "channel": "chat"})

    outcome = await send_reply.execute(node_ctx(), config)

    assert outcome.request["message"] == '{"a": 1}'


async def test_send_email_normalises_recipients(node_ctx):
    config = send_email.Config.model_validate(
        {"to": ["a@x.com", " ", "b@x.com"], "cc": ["c@x.com"], "subject": "S", "body": "B"}
    )

    outcome = await send_email.execute(node_ctx(), config)

    assert outcome.request == {
        "to": ["a@x.com", "b@x.com"],
        "cc": ["c@x.com"],
        "bcc": [],
        "subject": "S",
        "body": "B",
    }


async def test_send_email_to_an_address_that_rendered_empty_fails(node_ctx):
    config = send_email.Config.model_validate({"to": "", "subject": "S"})

    with pytest.raises(NodeFailed, match="no recipient"):
        await send_email.execute(node_ctx(), config)


@pytest.mark.parametrize(
    ("module", "config"),
    [
        (send_email, {"subject": "no recipient"}),
        (send_email, {"to": "a@x.com"}),
        (assign_agent, {"strategy": "round_robin"}),
        (assign_agent, {"queue": "q", "strategy": "specific"}),
        (add_tag, {"tags": []}),
        (end_chat, {"status": "deleted"}),
        (ai_generate, {"prompt": ""}),
        (ai_generate, {"prompt": "p", "temperature": 5}),
        (send_reply, {"message": "x", "chanel": "sms"}),
    ],
)
def test_action_configs_are_checked(module, config):
    with pytest.raises(ValidationError):
        module.Config.model_validate(config)


async def test_assign_agent_stores_the_assignment_when_asked(node_ctx):
    config = assign_agent.Config.model_validate({"queue": "billing", "outputVariable": "agent"})
    ctx = node_ctx(delivered={"agentId": "a-1"})

    outcome = await assign_agent.execute(ctx, config)

    assert outcome.port == "out"
    assert ctx.context["variables"]["workflow"]["agent"] == {"agentId": "a-1"}


async def test_add_tag_drops_blanks_and_duplicates(node_ctx):
    config = add_tag.Config.model_validate({"tags": ["vip", " ", "vip", "late"]})

    outcome = await add_tag.execute(node_ctx(payload={"conversationId": "c1"}), config)

    assert outcome.request == {"conversationId": "c1", "tags": ["vip", "late"]}


async def test_end_chat_requests_closing_with_the_goodbye(node_ctx):
    config = end_chat.Config.model_validate({"message": "Bye", "status": "closed"})

    outcome = await end_chat.execute(node_ctx(payload={"conversationId": "c1"}), config)

    assert outcome.request == {"conversationId": "c1", "status": "closed", "message": "Bye"}


async def test_ai_generate_sends_the_workflow_resources_and_stores_the_text(node_ctx):
    config = ai_generate.Config.model_validate({"prompt": "Answer", "outputVariable": "draft"})
    resources = {"knowledgeBase": {"documentIds": ["d"]}, "aiConfig": {"model": "m"}}

    asked = await ai_generate.execute(node_ctx(resources=resources), config)
    ctx = node_ctx(delivered={"text": "Hello!"})
    answered = await ai_generate.execute(ctx, config)

    assert asked.request["params"] == {
        "prompt": "Answer",
        "documentIds": ["d"],
        "aiConfig": {"model": "m"},
        "recentMessages": 10,
        "fallbackOnEmpty": True,
    }
    assert answered.output == {"text": "Hello!", "fallback": False}
    assert answered.port == "out"
    assert ctx.context["variables"]["workflow"]["draft"] == "Hello!"


async def test_ai_generate_takes_its_fallback_port_when_nothing_grounds_the_answer(node_ctx):
    config = ai_generate.Config.model_validate({"prompt": "Answer", "outputVariable": "draft"})
    ctx = node_ctx(delivered={"text": "", "fallback": True})
    ctx.wired_ports = frozenset({"out", "fallback"})
    answered = await ai_generate.execute(ctx, config)
    assert answered.port == "fallback" and answered.output["fallback"] is True
    assert "draft" not in ctx.context["variables"]["workflow"]
    empty = node_ctx(delivered={"text": ""})
    empty.wired_ports = frozenset({"out", "fallback"})
    assert (await ai_generate.execute(empty, config)).port == "fallback"


async def test_ai_generate_asks_for_structured_output_and_stores_the_object(node_ctx):
    schema = {"type": "object", "properties": {"email": {"type": "string"}}}
    config = ai_generate.Config.model_validate(
        {"prompt": "Extract", "outputVariable": "o", "responseSchema": schema}
    )
    asked = await ai_generate.execute(node_ctx(payload={"text": "bo@x.io"}), config)
    assert asked.request["params"]["responseSchema"] == schema
    assert asked.request["params"]["query"] == "bo@x.io"
    ctx = node_ctx(delivered={"text": '{"email": "bo@x.io"}', "data": {"email": "bo@x.io"}})
    await ai_generate.execute(ctx, config)
    assert ctx.context["variables"]["workflow"]["o"] == {"email": "bo@x.io"}


@pytest.mark.parametrize(
    ("operation", "before", "value", "after"),
    [
        ("set", {"n": 1}, "x", "x"),
        ("increment", {}, None, 1),
        ("increment", {"n": 2}, "3", 5),
        ("increment", {"n": 1.5}, 1, 2.5),
        ("append", {}, "a", ["a"]),
        ("append", {"n": ["a"]}, ["b"], ["a", ["b"]]),
        ("remove", {"n": ["a", "b", "a"]}, "a", ["b"]),
    ],
)
async def test_set_variable_operations(node_ctx, operation, before, value, after):
    config = set_variable.Config.model_validate(
        {"path": "workflow.n", "operation": operation, "value": value}
    )
    ctx = node_ctx(workflow=dict(before))

    await set_variable.execute(ctx, config)

    assert ctx.context["variables"]["workflow"]["n"] == after


async def test_set_variable_remove_without_value_deletes(node_ctx):
    config = set_variable.Config.model_validate(
        {"path": "conversation.flag", "operation": "remove"}
    )
    ctx = node_ctx(conversation={"flag": True, "keep": 1})

    await set_variable.execute(ctx, config)

    assert ctx.context["variables"]["conversation"] == {"keep": 1}


async def test_set_variable_writes_nested_paths(node_ctx):
    config = set_variable.Config.model_validate(
        {"path": "workflow.order.lines[0].sku", "value": "B"}
    )
    ctx = node_ctx(workflow={"order": {"lines": [{"sku": "A"}]}})

    await set_variable.execute(ctx, config)

    assert ctx.context["variables"]["workflow"]["order"] == {"lines": [{"sku": "B"}]}


@pytest.mark.parametrize(
    ("operation", "before", "message"),
    [("increment", {"n": "abc"}, "not a number"), ("append", {"n": 5}, "not a list")],
)
async def test_set_variable_refuses_nonsense_operations(node_ctx, operation, before, message):
    config = set_variable.Config.model_validate(
        {"path": "workflow.n", "operation": operation, "value": 1}
    )

    with pytest.raises(NodeFailed, match=message):
        await set_variable.execute(node_ctx(workflow=before), config)


@pytest.mark.parametrize("path", ["customer.name", "trigger.x", "workflow", "name", "workflow..x"])
def test_set_variable_writes_only_variables(path):
    with pytest.raises(ValidationError):
        set_variable.Config.model_validate({"path": path, "value": 1})


async def test_set_variable_with_an_unresolved_dynamic_path_fails(node_ctx):
    config = set_variable.Config.model_validate(
        {"path": "workflow.by.{{workflow.key}}", "value": 1}
    )

    with pytest.raises(NodeFailed, match="unresolved"):
        await set_variable.execute(node_ctx(), config)
