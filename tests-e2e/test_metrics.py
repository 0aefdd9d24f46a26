"""Every service's /metrics from the outside, after a workflow ran: the shared series of the kit
(messages, batches, lag, HTTP requests by route template) and each service's domain series
(executions by trigger type and outcome, node runs by kind and status, deliveries by
channel and outcome), all under the connectflo_ prefix."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import SERVICES, TenantApi
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e


async def samples(http: httpx.AsyncClient, service: str) -> dict[tuple[str, frozenset], float]:
    answer = await http.get(f"http://127.0.0.1:{SERVICES[service].port}/metrics")
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(found: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_count_what_a_workflow_did(api: TenantApi, http: httpx.AsyncClient) -> None:
    await api.activate(
        {
            "name": "Metrics",
            "triggerType": "Incoming Message",
            "nodes": [
                {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
                {"id": "r", "type": "action", "label": "Send Reply", "config": {"message": "hi"}},
            ],
            "edges": [{"id": "e", "source": "t", "target": "r"}],
        }
    )
    executor_before = await samples(http, "executor")
    notifier_before = await samples(http, "notifier")
    trigger_id = await api.message("count me", conversation_id="metrics-1")
    assert (await api.finished_execution(trigger_id))["status"] == "completed"
    await asyncio.sleep(0.5)  # the notifier's batch is counted when handled

    executor = await samples(http, "executor")
    for outcome in ("started", "completed"):
        labels = {"trigger_type": "Incoming Message", "outcome": outcome}
        assert value(executor, "connectflo_executions_total", **labels) >= 1 + value(
            executor_before, "connectflo_executions_total", **labels
        ), outcome
    sent = {"kind": "action.send_reply", "status": "completed"}
    assert value(executor, "connectflo_node_runs_total", **sent) > value(
        executor_before, "connectflo_node_runs_total", **sent
    )
    assert value(executor, "connectflo_node_run_duration_seconds_count", kind="action.send_reply")
    group = SERVICES["executor"].group
    assert group is not None
    assert (
        "connectflo_consumer_lag_records",
        frozenset({"group": group, "topic": "connectflo.triggers.v1"}.items()),
    ) in executor
    assert value(
        executor,
        "connectflo_messages_consumed_total",
        consumer="executor",
        topic="connectflo.triggers.v1",
    )

    notifier = await samples(http, "notifier")
    delivered = {"channel": "chat", "outcome": "delivered"}
    assert value(notifier, "connectflo_deliveries_total", **delivered) > value(
        notifier_before, "connectflo_deliveries_total", **delivered
    )
    assert value(
        notifier, "connectflo_messages_published_total", topic="connectflo.replies.v1"
    ) > value(notifier_before, "connectflo_messages_published_total", topic="connectflo.replies.v1")

    gateway = await samples(http, "trigger-gateway")
    posted = {"route": "/v1/events/{trigger_type}", "method": "POST", "status": "202"}
    assert value(gateway, "connectflo_http_requests_total", **posted) >= 1
    # route templates only: no series carries an id of ours
    assert not any(trigger_id in str(labels) or "metrics-1" in str(labels) for _, labels in gateway)
