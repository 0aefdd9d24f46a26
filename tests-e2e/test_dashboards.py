"""The dashboards (deploy/grafana/*.json) and alert rules (deploy/prometheus/alerts.yml) against
the running Prometheus (deploy/local/infra.sh), which scrapes this session's services every
second: after a load that makes every panel show something (chat replies after an integration
call, an agent's assignment and a wait; a failing integration call that fails its execution;
SMS replies sent and one refused; the tenant's webhook endpoint told of them; an SLA breached; a
lost start the watchdog finds; a poison message dead-lettered), every panel's query names only
series the services export and answers with at least one series; every alert rule reads series
a service declares and evaluates without error."""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import time
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from conftest import ADMIN_TOKEN, REPO, SANDBOX_URL, Prometheus, Tenant, TenantApi
from connections import connect
from contracts import topics
from prometheus_client import REGISTRY
from test_agents import agents
from test_sla import ALL_DAY, policy
from test_sms_outbound import CUSTOMER, UNSUBSCRIBED, Twilio, sms_reply_workflow
from test_sms_outbound import twilio as twilio  # the fixture
from test_tenant_webhooks import Receiver
from test_tenant_webhooks import receiver as receiver  # the fixture
from test_watchdog import created_without_start

pytestmark = pytest.mark.e2e

DASHBOARDS = sorted((REPO / "deploy" / "grafana").glob("*.json"))
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
# What Grafana puts into a query before it reaches Prometheus.
VARIABLES = {"$__rate_interval": "30s", "$job": ".+"}
# Where the services declare their series (importing one registers them with prometheus_client).
TELEMETRY_MODULES = (
    "servicekit.metrics",
    "executor.telemetry",
    "integrations.telemetry",
    "notifier.telemetry",
    "scheduler.telemetry",
)
SERIES_NAME = re.compile(r"\b(?:connectflo_\w+|process_\w+|up)\b")

ECHO_THEN_WAIT = {
    "name": "Look up, assign, wait, reply",
    "triggerType": "Incoming Message",
    "nodes": [
        {"id": "t", "type": "trigger", "label": "Incoming Message", "config": {}},
        {
            "id": "shop",
            "type": "integration",
            "label": "Shopify",
            "config": {"action": "getOrder", "orderId": "{{trigger.orderId}}"},
        },
        {"id": "assign", "type": "action", "label": "Assign Agent", "config": {"queue": "support"}},
        {"id": "wait", "type": "logic", "label": "Wait/Delay", "config": {"duration": "1s"}},
        {"id": "reply", "type": "action", "label": "Send Reply", "config": {"message": "ok"}},
    ],
    "edges": [
        {"id": "e1", "source": "t", "target": "shop"},
        {"id": "e2", "source": "shop", "target": "assign"},
        {"id": "e3", "source": "assign", "target": "wait"},
        {"id": "e4", "source": "wait", "target": "reply"},
    ],
}


def declared_series() -> set[str]:
    """Every series name the services' code declares (the kit's and each service's telemetry
    module, prometheus_client's process collector)."""
    for module in TELEMETRY_MODULES:
        importlib.import_module(module)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
    return {
        family.name + suffix
        for family in REGISTRY.collect()
        for suffix in suffixes.get(family.type, ("",))
    } | {"up"}


def panel_queries() -> list[tuple[str, str, str, str]]:
    """(dashboard uid, panel title, refId, PromQL with Grafana's variables filled in)."""
    found = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"]
                for variable, value in VARIABLES.items():
                    expr = expr.replace(variable, value)
                found.append((board["uid"], panel["title"], target["refId"], expr))
    return found


def test_the_dashboards_name_only_series_the_services_declare() -> None:
    declared = declared_series()
    assert len(DASHBOARDS) >= 3, DASHBOARDS
    unknown = {
        (uid, title, ref, name)
        for uid, title, ref, expr in panel_queries()
        for name in SERIES_NAME.findall(expr)
        if name not in declared
    }
    assert not unknown, f"panels naming series no service declares: {sorted(unknown)}"


async def prometheus_query(http: httpx.AsyncClient, url: str, expr: str) -> list[dict[str, Any]]:
    answer = await http.get(f"{url}/api/v1/query", params={"query": expr})
    assert answer.status_code == 200, f"{expr}: {answer.status_code} {answer.text}"
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


async def until_scraped(http: httpx.AsyncClient, url: str, exprs: list[str]) -> None:
    """Wait until Prometheus has every series of ``exprs`` from this session's services."""
    deadline = time.monotonic() + 60
    missing = exprs
    while missing:
        missing = [e for e in missing if not await prometheus_query(http, url, e)]
        if missing and time.monotonic() > deadline:
            raise AssertionError(f"not in Prometheus 60s after the load: {missing}")
        await asyncio.sleep(0.5)


async def other_tenant(http: httpx.AsyncClient) -> Tenant:
    made = await http.post(
        "/v1/tenants", json={"name": "Broken shop"}, headers={"X-Admin-Token": ADMIN_TOKEN}
    )
    assert made.status_code == 201, made.text
    return Tenant(made.json()["tenant_id"], made.json()["api_key"])


async def load(api: TenantApi, twilio: Twilio, receiver: Receiver) -> None:
    """What the panels show: see the module's docstring."""
    broken = TenantApi(api.http, await other_tenant(api.http), api.stack)
    # the shop behind this connection answers 404 to everything: the node and its run fail
    shop = {"shop": "broken.myshopify.com", "base_url": f"{SANDBOX_URL}/no-such-shop"}
    await connect(api.http, broken.tenant.headers, "shopify", mode="http", config=shop)
    await broken.activate(ECHO_THEN_WAIT)
    # ... and its customer gets no reply: the first response's SLA is breached a second later
    await policy(
        broken,
        name="Chat first response",
        channels=["chat"],
        targets=[{"metric": "first_response", "seconds": 1}],
        business_hours={"timezone": "UTC", "weekly": ALL_DAY},
    )
    # the SLA keeper re-reads which tenants have a policy every 0.5 s (e2e) and passes over the
    # messages of others: the broken tenant's message waits until it knows
    knows_the_policy = time.monotonic() + 1
    subscribed = await api.http.post(
        "/v1/webhooks",
        json={"url": receiver.url, "event_types": ["message.received", "message.sent"]},
        headers=api.tenant.headers,
    )
    assert subscribed.status_code == 201, subscribed.text
    await connect(api.http, api.tenant.headers, "shopify", mode="echo")
    await agents(api, {"id": "ann", "name": "Ann", "capacity": 5})
    workflow_id = await api.activate(ECHO_THEN_WAIT)
    # an execution whose start command was lost: the watchdog finds it and starts it
    workflow = api.stack.db.workflows.find_one({"_id": workflow_id})
    await created_without_start(api.stack, workflow, api.tenant.tenant_id)
    triggers = [
        await api.message("where is my order", conversation_id=f"dash-{i}", orderId=str(i))
        for i in range(3)
    ]
    await asyncio.sleep(max(0.0, knows_the_policy - time.monotonic()))
    failing = await broken.message("and mine?", conversation_id="dash-broken", orderId="9")
    for trigger_id in triggers:
        assert (await api.finished_execution(trigger_id))["status"] == "completed"
    assert (await broken.finished_execution(failing))["status"] == "failed"

    await api.activate(sms_reply_workflow())
    await twilio.inbound(CUSTOMER, "hello by SMS")
    await twilio.inbound(UNSUBSCRIBED, "STOP?")

    producer = AIOKafkaProducer(bootstrap_servers=api.stack.kafka)
    await producer.start()
    try:
        await producer.send_and_wait(
            topics.INTEGRATION_REQUESTS,
            b"not an envelope",
            key=b"exe_dashboards",
            headers=[("tenant_id", api.tenant.tenant_id.encode())],
        )
    finally:
        await producer.stop()


async def test_every_panel_answers_after_a_load(
    api: TenantApi,
    twilio: Twilio,
    receiver: Receiver,
    prometheus: Prometheus,
    http: httpx.AsyncClient,
) -> None:
    await load(api, twilio, receiver)
    e2e = 'stack="e2e"'
    await until_scraped(
        http,
        prometheus.url,
        [
            f'connectflo_executions_total{{{e2e}, outcome="failed"}}',
            f'connectflo_integration_calls_total{{{e2e}, outcome!="ok"}}',
            f"connectflo_scheduler_timer_lateness_seconds_count{{{e2e}}} > 0",
            f'connectflo_deliveries_total{{{e2e}, channel="sms", outcome="failed"}}',
            f"connectflo_delivery_reports_total{{{e2e}}}",
            f'connectflo_dead_letters_total{{{e2e}, consumer="integrations"}}',
            f"connectflo_webhook_events_total{{{e2e}}}",
            f'connectflo_assignments_total{{{e2e}, outcome="assigned"}}',
            f'connectflo_watchdog_findings_total{{{e2e}, kind="not_started"}}',
            f'connectflo_scheduler_sla_crossings_total{{{e2e}, kind="breached"}}',
            f'connectflo_webhook_attempts_total{{{e2e}, outcome="delivered"}}',
        ],
    )
    await asyncio.sleep(2)  # a second sample of each, for rate()

    names = await http.get(
        f"{prometheus.url}/api/v1/label/__name__/values", params={"match[]": f"{{{e2e}}}"}
    )
    exported = set(names.json()["data"])
    problems = []
    for uid, title, ref, expr in panel_queries():
        missing = [n for n in SERIES_NAME.findall(expr) if n not in exported]
        if missing:
            problems.append(f"{uid} / {title} / {ref}: no service exports {missing}: {expr}")
        elif not await prometheus_query(http, prometheus.url, expr):
            problems.append(f"{uid} / {title} / {ref}: no series: {expr}")
    assert not problems, "\n".join(problems)

    job_values = await http.get(
        f"{prometheus.url}/api/v1/label/job/values",
        params={"match[]": "connectflo_http_requests_total"},
    )
    assert {"trigger-gateway", "executor", "scheduler", "integrations", "notifier"} <= set(
        job_values.json()["data"]
    ), "the services dashboard's $job variable"

    # the alert rules as Prometheus loaded them (from this checkout's alerts.yml, or the
    # checkout's that started it): every one, reading declared series, evaluating without error
    groups = (await http.get(f"{prometheus.url}/api/v1/rules")).json()["data"]["groups"]
    loaded = {r["name"]: r for group in groups for r in group["rules"]}
    assert set(re.findall(r"- alert: (\w+)", ALERTS.read_text())) <= set(loaded)
    declared = declared_series()
    undeclared = {
        name: sorted(set(SERIES_NAME.findall(rule["query"])) - declared)
        for name, rule in loaded.items()
    }
    assert not any(undeclared.values()), undeclared
    failing = {n: rule.get("lastError") for n, rule in loaded.items() if rule["health"] == "err"}
    assert not failing, failing
