"""A trace receiver for the end-to-end tests: the OTLP/HTTP endpoint the services export their
spans to (``POST /v1/traces``, protobuf), keeping every span in memory for the tests to query.

It answers every export at once, like a collector: a service's batch span processor never waits
on a test."""

from __future__ import annotations

import gzip
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto
from opentelemetry.proto.trace.v1.trace_pb2 import Status as StatusProto


@dataclass(frozen=True)
class Link:
    trace_id: str
    span_id: str


@dataclass(frozen=True)
class ReceivedSpan:
    """One exported span; ids in lowercase hex, kind and status as OTLP names them without
    their prefix (``SERVER``, ``CONSUMER``; ``ERROR``, ``UNSET``)."""

    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    links: tuple[Link, ...]
    attributes: dict[str, Any]
    status: str
    status_message: str

    def __str__(self) -> str:
        return f"{self.service}: {self.kind} {self.name!r} {self.span_id}<-{self.parent_span_id}"


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    return None if which is None else getattr(value, which)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _span(service: str, span: SpanProto) -> ReceivedSpan:
    return ReceivedSpan(
        service=service,
        name=span.name,
        kind=SpanProto.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex() or None,
        links=tuple(Link(link.trace_id.hex(), link.span_id.hex()) for link in span.links),
        attributes=_attributes(span.attributes),
        status=StatusProto.StatusCode.Name(span.status.code).removeprefix("STATUS_CODE_"),
        status_message=span.status.message,
    )


def _service_name(attributes: list[KeyValue]) -> str:
    return str(_attributes(attributes).get("service.name", "unknown"))


class TraceReceiver:
    """``start()``, point the services' ``OTEL_EXPORTER_OTLP_ENDPOINT`` at ``endpoint``, then
    ``spans(trace_id)`` or ``wait_for(trace_id, until)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_trace: defaultdict[str, list[ReceivedSpan]] = defaultdict(list)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="otlp-receiver", daemon=True
        )

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def spans(self, trace_id: str) -> list[ReceivedSpan]:
        """The spans of one trace received so far, in arrival order."""
        with self._lock:
            return list(self._by_trace.get(trace_id, ()))

    def all_spans(self) -> list[ReceivedSpan]:
        """Every span received so far."""
        with self._lock:
            return [span for spans in self._by_trace.values() for span in spans]

    def count(self) -> int:
        with self._lock:
            return sum(len(spans) for spans in self._by_trace.values())

    def wait_for(
        self,
        trace_id: str,
        until: Callable[[list[ReceivedSpan]], bool],
        *,
        timeout: float = 15,
    ) -> list[ReceivedSpan]:
        """The trace's spans once ``until`` holds for them; on timeout, an AssertionError that
        lists what arrived."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans(trace_id)
            if until(spans):
                return spans
            if time.monotonic() > deadline:
                listed = "\n  ".join(map(str, spans)) or "(none)"
                raise AssertionError(f"trace {trace_id} incomplete after {timeout}s:\n  {listed}")
            time.sleep(0.1)

    def _receive(self, body: bytes) -> None:
        request = ExportTraceServiceRequest.FromString(body)
        received = [
            _span(_service_name(resource_spans.resource.attributes), span)
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        with self._lock:
            for span in received:
                self._by_trace[span.trace_id].append(span)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class OtlpHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # the exporter keeps its connection open

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                try:
                    receiver._receive(body)
                except Exception as error:  # a malformed export: say so, as a collector would
                    self.send_error(400, str(error))
                    return
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # one line per export on the test's stderr says nothing

        return OtlpHandler
