"""Wait for Reply's `match` and re-prompts, driven through the interpreter: each re-prompt is a
new attempt (its own effect, so its own idempotency key and timeout)."""

from typing import Any

DIGITS = 'workflow.reply.text.matches("^[0-9]+$")'


def asking(workflow: Any, **wait: Any) -> dict:
    return workflow(
        [
            ("t", "trigger", "Incoming Message", {}),
            ("wait", "advanced", "Wait for Reply", {"timeoutSeconds": 60, **wait}),
            ("ok", "action", "Send Reply", {"message": "Order {{workflow.reply.text}}"}),
            ("give_up", "action", "Send Reply", {"message": "Let me get a person"}),
        ],
        [("t", "wait"), ("wait", "ok", "out"), ("wait", "give_up", "no_match")],
    )


def waits(report: dict) -> list[dict]:
    return [e["request"] for e in report["effects"] if e["node_id"] == "wait"]


async def test_a_reply_that_matches_goes_on_at_once(workflow, run) -> None:
    report = await run(
        asking(workflow, match=DIGITS, repromptMessage="Digits only, please"),
        mocks={"wait": {"text": "1234"}, "ok": {}},
    )

    assert report["status"] == "completed"
    assert [e["node_id"] for e in report["executed"]] == ["t", "wait", "ok"]
    assert len(waits(report)) == 1


async def test_a_reply_that_does_not_match_is_re_prompted_and_waited_for_again(
    workflow, run
) -> None:
    report = await run(
        asking(workflow, match=DIGITS, repromptMessage="Digits only, please"),
        mocks={"wait": [{"text": "my order"}, {"text": "no idea"}, {"text": "42"}], "ok": {}},
    )

    assert report["status"] == "completed"
    assert report["variables"]["workflow"]["reply"] == {"text": "42"}
    first, *again = waits(report)
    assert "prompt" not in first
    assert [w["prompt"] for w in again] == ["Digits only, please"] * 2
    ok = next(e for e in report["effects"] if e["node_id"] == "ok")
    assert ok["request"]["message"] == "Order 42"


async def test_after_the_last_re_prompt_the_path_takes_no_match(workflow, run) -> None:
    report = await run(
        asking(workflow, match=DIGITS, repromptMessage="Digits?", maxReprompts=1),
        mocks={"wait": [{"text": "a"}, {"text": "b"}], "give_up": {}},
    )

    assert report["status"] == "completed"
    assert [e["node_id"] for e in report["executed"]][-1] == "give_up"
    assert len(waits(report)) == 2


async def test_a_structured_match_reads_the_reply(workflow, run) -> None:
    match = {"left": "{{workflow.reply.text}}", "operator": "contains", "right": "yes"}
    report = await run(
        asking(workflow, match=match, maxReprompts=0),
        mocks={"wait": {"text": "no"}, "give_up": {}},
    )

    assert [e["node_id"] for e in report["executed"]][-1] == "give_up"
