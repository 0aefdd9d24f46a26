"""The Prometheus metrics every service has, under one prefix (``connectflo_``); a service's
domain metrics (executions, deliveries, integration calls, timers) live in its own telemetry
module, under the same prefix."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: nothing reads them

MESSAGES_PUBLISHED = Counter(
    "connectflo_messages_published_total", "Messages acknowledged by Kafka, by topic.", ["topic"]
)
MESSAGES_CONSUMED = Counter(
    "connectflo_messages_consumed_total",
    "Records handed to a consumer's handler, by consumer and topic.",
    ["consumer", "topic"],
)
BATCH_SIZE = Histogram(
    "connectflo_consumer_batch_records",
    "Records per batch handed to a consumer's handler.",
    ["consumer", "topic"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 100, 200, 500),
)
CONSUMER_LAG = Gauge(
    "connectflo_consumer_lag_records",
    "Records on the consumer's assigned partitions not yet handed to its handler "
    "(high watermark - position), by consumer group and topic.",
    ["group", "topic"],
)
DEAD_LETTERS = Counter(
    "connectflo_dead_letters_total",
    "Messages a consumer gave up on (published to the dead-letter topic), by consumer.",
    ["consumer"],
)
HTTP_REQUESTS = Counter(
    "connectflo_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "connectflo_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
