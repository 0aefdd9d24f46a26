"""Slack's Web API in the sandbox, driven by the official slack-sdk over real HTTP: posts by
channel id and #name, thread replies, Slack's errors and its 429."""

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient


@pytest.fixture
def workspace(sandbox_server):
    with httpx.Client(base_url=sandbox_server.url) as http:
        assert http.delete("/sandbox/slack").status_code == 200
        made = http.post("/sandbox/slack/workspaces", json={"name": "Acme"})
        assert made.status_code == 201, made.text
        return made.json()


@pytest.fixture
def slack(sandbox_server, workspace):
    return WebClient(workspace["bot_token"], base_url=f"{sandbox_server.url}/api/")


def channel_id(workspace, name):
    return next(c["id"] for c in workspace["channels"] if c["name"] == name)


def posted(sandbox_server, team_id):
    with httpx.Client(base_url=sandbox_server.url) as http:
        return http.get("/sandbox/slack/messages", params={"team_id": team_id}).json()["messages"]


def test_auth_test_names_the_workspace_and_bot(slack, workspace):
    answer = slack.auth_test()
    assert (answer["team_id"], answer["user_id"]) == (
        workspace["team_id"],
        workspace["bot_user_id"],
    )


def test_a_post_by_name_answers_the_channel_id_and_ts(slack, workspace, sandbox_server):
    answer = slack.chat_postMessage(channel="#support", text="New ticket")

    assert answer["ok"] is True
    assert answer["channel"] == channel_id(workspace, "support")
    assert answer["message"]["text"] == "New ticket"
    [message] = posted(sandbox_server, workspace["team_id"])
    assert (message["channel"], message["ts"]) == (answer["channel"], answer["ts"])


def test_a_thread_reply_with_blocks(slack, workspace, sandbox_server):
    parent = slack.chat_postMessage(channel=channel_id(workspace, "general"), text="Order #1")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*shipped*"}}]

    reply = slack.chat_postMessage(
        channel=parent["channel"], text="shipped", blocks=blocks, thread_ts=parent["ts"]
    )

    assert reply["message"]["thread_ts"] == parent["ts"]
    last = posted(sandbox_server, workspace["team_id"])[-1]
    assert (last["thread_ts"], last["blocks"]) == (parent["ts"], blocks)


def test_a_form_encoded_call_with_the_token_argument(sandbox_server, workspace):
    answer = httpx.post(
        f"{sandbox_server.url}/api/chat.postMessage",
        data={"token": workspace["bot_token"], "channel": "random", "text": "hi"},
    ).json()
    assert answer["ok"] is True


def test_a_post_to_a_user_goes_to_the_bots_im(slack, workspace):
    answer = slack.chat_postMessage(channel=workspace["users"][0], text="You were assigned")
    assert answer["channel"].startswith("D")


@pytest.mark.filterwarnings("ignore:The top-level .text. argument is missing")
@pytest.mark.parametrize(
    ("channel", "text", "error"),
    [
        ("#nowhere", "hi", "channel_not_found"),
        ("#outside", "hi", "not_in_channel"),
        ("#old-news", "hi", "is_archived"),
        ("#general", "", "no_text"),
        ("#general", "x" * 40_001, "msg_too_long"),
    ],
)
def test_slacks_refusals(slack, channel, text, error):
    with pytest.raises(SlackApiError) as raised:
        slack.chat_postMessage(channel=channel, text=text)
    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == error


def test_a_rate_limited_channel_is_429_with_retry_after(slack):
    with pytest.raises(SlackApiError) as raised:
        slack.chat_postMessage(channel="#busy", text="hi")
    response = raised.value.response
    assert (response.status_code, response["error"]) == (429, "ratelimited")
    assert response.headers["retry-after"] == "1"


def test_a_wrong_or_revoked_token(sandbox_server, workspace, slack):
    wrong = WebClient("xoxb-wrong", base_url=f"{sandbox_server.url}/api/")
    with pytest.raises(SlackApiError) as raised:
        wrong.chat_postMessage(channel="#general", text="hi")
    assert raised.value.response["error"] == "invalid_auth"
    httpx.post(f"{sandbox_server.url}/sandbox/slack/workspaces/{workspace['team_id']}/revoke")
    with pytest.raises(SlackApiError) as raised:
        slack.chat_postMessage(channel="#general", text="hi")
    assert raised.value.response["error"] == "token_revoked"


async def test_the_async_client(sandbox_server, workspace):
    client = AsyncWebClient(workspace["bot_token"], base_url=f"{sandbox_server.url}/api/")
    answer = await client.chat_postMessage(channel="#general", text="async")
    assert answer["ok"] is True
