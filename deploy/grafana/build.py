"""The Grafana dashboards of deploy/grafana, written from the panels below: `make dashboards`
regenerates the JSON files, `make dashboards-check` (in `make test`) fails when one is stale.

Generated rather than hand-edited so that every panel's PromQL sits here in a few readable
lines, the layout (ids, grid positions) cannot drift, and tests-e2e/test_dashboards.py runs
exactly the queries the JSON holds. Import the JSON into Grafana (Dashboards > Import); each
asks for a Prometheus data source (`${datasource}`). Every series named here is one a service
exports (docs/architecture.md, *Metrics*)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RATE = "$__rate_interval"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    description: str = ""


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[dict[str, Any], ...] = field(default_factory=tuple)


def series(metric: str, selector: str = "") -> str:
    return f"{metric}{{{selector}}}" if selector else metric


def rate(metric: str, by: str, selector: str = "") -> str:
    return f"sum by ({by}) (rate({series(metric, selector)}[{RATE}]))"


def quantiles(histogram: str, by: str = "", selector: str = "") -> tuple[Query, ...]:
    """p50, p95 and p99 of a histogram (its _bucket series), optionally per label ``by``."""
    labels = f"le, {by}" if by else "le"
    suffix = f" {{{{{by}}}}}" if by else ""
    return tuple(
        Query(
            f"histogram_quantile({q}, sum by ({labels}) "
            f"(rate({series(histogram + '_bucket', selector)}[{RATE}])))",
            f"p{round(q * 100)}{suffix}",
        )
        for q in (0.5, 0.95, 0.99)
    )


OVERVIEW = Dashboard(
    uid="connectflo-overview",
    title="ConnectFlo / Overview",
    description="Throughput, latency, failures and waits of the whole flow engine.",
    rows=(
        Row(
            "Throughput",
            (
                Panel(
                    "Executions by trigger type",
                    (
                        Query(
                            rate(
                                "connectflo_executions_total",
                                "trigger_type, outcome",
                                'outcome=~"started|completed"',
                            ),
                            "{{trigger_type}} {{outcome}}",
                        ),
                    ),
                    "ops",
                ),
                Panel(
                    "Triggers accepted by the gateway",
                    (
                        Query(
                            rate(
                                "connectflo_http_requests_total",
                                "route, status",
                                'job="trigger-gateway", route=~"/v1/events/.*|/webhooks/.*"',
                            ),
                            "{{route}} {{status}}",
                        ),
                    ),
                    "reqps",
                ),
                Panel(
                    "Node runs by kind",
                    (Query(rate("connectflo_node_runs_total", "kind"), "{{kind}}"),),
                    "ops",
                ),
                Panel(
                    "Kafka records consumed by topic",
                    (Query(rate("connectflo_messages_consumed_total", "topic"), "{{topic}}"),),
                    "ops",
                ),
            ),
        ),
        Row(
            "Latency",
            (
                Panel(
                    "Node run duration",
                    quantiles("connectflo_node_run_duration_seconds"),
                    "s",
                    "A node's own work, waits excluded.",
                ),
                Panel(
                    "Gateway request duration p95 by route",
                    (
                        Query(
                            "histogram_quantile(0.95, sum by (le, route) (rate("
                            'connectflo_http_request_duration_seconds_bucket{job="trigger-gateway"}'
                            f"[{RATE}])))",
                            "{{route}}",
                        ),
                    ),
                    "s",
                ),
                Panel(
                    "Integration call duration p95",
                    (
                        Query(
                            "histogram_quantile(0.95, sum by (le, integration) (rate("
                            f"connectflo_integration_call_duration_seconds_bucket[{RATE}])))",
                            "{{integration}}",
                        ),
                    ),
                    "s",
                    "The provider's answer included, retries inside the service included.",
                ),
            ),
        ),
        Row(
            "Failures",
            (
                Panel(
                    "Failed executions",
                    (
                        Query(
                            rate("connectflo_executions_total", "trigger_type", 'outcome="failed"'),
                            "{{trigger_type}}",
                        ),
                    ),
                    "ops",
                ),
                Panel(
                    "Failed node runs by kind",
                    (
                        Query(
                            rate("connectflo_node_runs_total", "kind", 'status="failed"'),
                            "{{kind}}",
                        ),
                    ),
                    "ops",
                ),
                Panel(
                    "Dead letters by consumer",
                    (Query(rate("connectflo_dead_letters_total", "consumer"), "{{consumer}}"),),
                    "ops",
                    "Messages a consumer gave up on: GET /v1/dead-letters.",
                ),
                Panel(
                    "Integration errors",
                    (
                        Query(
                            rate(
                                "connectflo_integration_calls_total",
                                "integration, outcome",
                                'outcome!="ok"',
                            ),
                            "{{integration}} {{outcome}}",
                        ),
                    ),
                    "ops",
                ),
                Panel(
                    "Watchdog: stuck executions and findings",
                    (
                        Query("sum(connectflo_watchdog_stuck_executions)", "stuck (last scan)"),
                        Query(
                            rate("connectflo_watchdog_findings_total", "kind, action"),
                            "{{kind}} {{action}}",
                        ),
                    ),
                    "short",
                ),
            ),
        ),
        Row(
            "Waits",
            (
                Panel(
                    "Timers stored and fired",
                    (
                        Query(
                            f"sum(rate(connectflo_scheduler_timers_stored_total[{RATE}]))",
                            "stored",
                        ),
                        Query(
                            f"sum(rate(connectflo_scheduler_timers_fired_total[{RATE}]))", "fired"
                        ),
                    ),
                    "ops",
                    "Waits, deadlines and retries' back-offs are timers.",
                ),
                Panel(
                    "Timer lateness",
                    quantiles("connectflo_scheduler_timer_lateness_seconds"),
                    "s",
                ),
                Panel(
                    "Consumer lag by group and topic",
                    (
                        Query(
                            "sum by (group, topic) (connectflo_consumer_lag_records)",
                            "{{group}} {{topic}}",
                        ),
                    ),
                    "short",
                ),
            ),
        ),
    ),
)

JOB = 'job=~"$job"'
SERVICES = Dashboard(
    uid="connectflo-services",
    title="ConnectFlo / Services",
    description="One service (or all): HTTP, Kafka, dead letters, process.",
    variables=(
        {
            "name": "job",
            "label": "service",
            "type": "query",
            "datasource": DATASOURCE,
            "query": "label_values(connectflo_http_requests_total, job)",
            "definition": "label_values(connectflo_http_requests_total, job)",
            "refresh": 2,
            "includeAll": True,
            "multi": True,
            "allValue": ".+",
            "current": {"text": "All", "value": "$__all"},
        },
    ),
    rows=(
        Row(
            "HTTP",
            (
                Panel("Up", (Query(f"up{{{JOB}}}", "{{job}} {{instance}}"),), "short"),
                Panel(
                    "Requests by route and status",
                    (
                        Query(
                            rate("connectflo_http_requests_total", "job, route, status", JOB),
                            "{{job}} {{route}} {{status}}",
                        ),
                    ),
                    "reqps",
                ),
                Panel(
                    "Request duration",
                    quantiles("connectflo_http_request_duration_seconds", "job", JOB),
                    "s",
                ),
            ),
        ),
        Row(
            "Kafka",
            (
                Panel(
                    "Records consumed",
                    (
                        Query(
                            rate("connectflo_messages_consumed_total", "consumer, topic", JOB),
                            "{{consumer}} {{topic}}",
                        ),
                    ),
                    "ops",
                ),
                Panel(
                    "Records published",
                    (
                        Query(
                            rate("connectflo_messages_published_total", "job, topic", JOB),
                            "{{job}} {{topic}}",
                        ),
                    ),
                    "ops",
                ),
                Panel(
                    "Batch size",
                    quantiles("connectflo_consumer_batch_records", "consumer", JOB),
                    "short",
                ),
                Panel(
                    "Consumer lag",
                    (
                        Query(
                            f"sum by (group, topic) (connectflo_consumer_lag_records{{{JOB}}})",
                            "{{group}} {{topic}}",
                        ),
                    ),
                    "short",
                ),
                Panel(
                    "Dead letters",
                    (
                        Query(
                            rate("connectflo_dead_letters_total", "consumer", JOB), "{{consumer}}"
                        ),
                    ),
                    "ops",
                ),
            ),
        ),
        Row(
            "Process",
            (
                Panel(
                    "CPU",
                    (
                        Query(
                            "sum by (job, instance) "
                            f"(rate(process_cpu_seconds_total{{{JOB}}}[{RATE}]))",
                            "{{job}} {{instance}}",
                        ),
                    ),
                    "percentunit",
                ),
                Panel(
                    "Resident memory",
                    (Query(f"process_resident_memory_bytes{{{JOB}}}", "{{job}} {{instance}}"),),
                    "bytes",
                ),
            ),
        ),
    ),
)

CONVERSATIONS = Dashboard(
    uid="connectflo-conversations",
    title="ConnectFlo / Conversations and deliveries",
    description="Replies and messages to people by channel, providers' reports, tenants' "
    "webhooks, agent routing and SLA clocks.",
    rows=(
        Row(
            "Deliveries",
            (
                Panel(
                    "Deliveries by channel and outcome",
                    (
                        Query(
                            rate("connectflo_deliveries_total", "channel, outcome"),
                            "{{channel}} {{outcome}}",
                        ),
                    ),
                    "ops",
                ),
                Panel(
                    "Delivery failures by channel",
                    (
                        Query(
                            rate("connectflo_deliveries_total", "channel", 'outcome="failed"'),
                            "{{channel}}",
                        ),
                    ),
                    "ops",
                ),
                Panel(
                    "Providers' status reports",
                    (
                        Query(
                            rate("connectflo_delivery_reports_total", "provider, outcome"),
                            "{{provider}} {{outcome}}",
                        ),
                    ),
                    "ops",
                ),
                Panel(
                    "Replies published",
                    (
                        Query(
                            rate(
                                "connectflo_messages_published_total",
                                "topic",
                                'topic=~"connectflo.replies.v1|connectflo.conversations.v1"',
                            ),
                            "{{topic}}",
                        ),
                    ),
                    "ops",
                ),
            ),
        ),
        Row(
            "Tenants' webhooks and routing",
            (
                Panel(
                    "Webhook events and attempts",
                    (
                        Query(
                            rate("connectflo_webhook_events_total", "event_type"), "{{event_type}}"
                        ),
                        Query(
                            rate("connectflo_webhook_attempts_total", "outcome"),
                            "attempt {{outcome}}",
                        ),
                    ),
                    "ops",
                ),
                Panel(
                    "Agent assignments",
                    (Query(rate("connectflo_assignments_total", "outcome"), "{{outcome}}"),),
                    "ops",
                ),
            ),
        ),
        Row(
            "SLA",
            (
                Panel(
                    "SLA crossings",
                    (
                        Query(
                            rate("connectflo_scheduler_sla_crossings_total", "kind, metric"),
                            "{{kind}} {{metric}}",
                        ),
                    ),
                    "ops",
                ),
                Panel(
                    "Conversations with SLA clocks kept",
                    (Query("sum(connectflo_scheduler_sla_kept_conversations)", "kept"),),
                    "short",
                ),
                Panel(
                    "SLA announce lateness",
                    quantiles("connectflo_scheduler_sla_announce_lateness_seconds"),
                    "s",
                ),
            ),
        ),
    ),
)

DASHBOARDS = (OVERVIEW, SERVICES, CONVERSATIONS)


def panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 8, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": q.expr}
            | ({"legendFormat": q.legend} if q.legend else {})
            for i, q in enumerate(panel.queries)
        ],
    }


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    for row in dashboard.rows:
        panels.append(
            {
                "id": len(panels) + 1,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        for i, panel in enumerate(row.panels):
            panels.append(panel_json(panel, len(panels) + 1, (i % 3) * 8, y + (i // 3) * 8))
        y += 8 * ((len(row.panels) + 2) // 3)
    source = {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
    }
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["connectflo"],
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": [source, *dashboard.variables]},
        "panels": panels,
    }


def rendered() -> dict[Path, str]:
    """Every dashboard's file and its text."""
    return {
        HERE / f"{d.uid}.json": json.dumps(dashboard_json(d), indent=2) + "\n" for d in DASHBOARDS
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a file is stale")
    args = parser.parse_args()
    stale = []
    for path, text in rendered().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    known = {path.name for path in rendered()}
    strays = sorted(p.name for p in HERE.glob("*.json") if p.name not in known)
    if stale or strays:
        print(
            f"deploy/grafana is stale (run make dashboards): {', '.join(stale + strays)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
