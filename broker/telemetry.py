"""OpenTelemetry: a span per stage for each event's journey, and the exchange's metrics.

The adapter starts a trace for each event it publishes and carries its context in the
event (``trace``) and in the Kafka header ``traceparent``; each stage after it (intake,
linker, consent, timeline, alerts) opens a span under that context for the events of its
batch. Spans are only made for sampled traces (``EHX_TELEMETRY_SAMPLE_RATIO``), because
a span costs about 23 µs and the hot path handles thousands of events a second.

Export by ``EHX_TELEMETRY_EXPORTER``: ``none`` (the default), ``console``, or ``otlp``
(HTTP, to ``EHX_TELEMETRY_ENDPOINT`` or the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``).

**No personal data**: span names are stage names; attributes and metric labels are
stages, agencies, recipients, outcomes, rule names and pseudonymous event ids, never
names, dates of birth, NHS numbers, addresses or narratives. An exception is recorded
by its type only (its message may quote a record). A test plants canary identifiers in
records and looks for them in every span, metric and log line.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from pydantic_settings import BaseSettings, SettingsConfigDict

TRACEPARENT = "traceparent"
#: When the adapter accepted the record (epoch milliseconds), carried in a Kafka header
#: so the last stage can measure end-to-end latency.
ACCEPTED_AT = "ehx-accepted-at"

_propagator = TraceContextTextMapPropagator()
tracer = trace.get_tracer("ehx")
meter = metrics.get_meter("ehx")

events_in = meter.create_counter(
    "ehx.events.in", unit="{event}", description="Events taken in, by stage."
)
decisions = meter.create_counter(
    "ehx.decisions", unit="{decision}", description="Sharing decisions, by outcome and recipient."
)
overrides = meter.create_counter(
    "ehx.overrides", unit="{decision}", description="Significant-harm overrides, by rule."
)
quarantined = meter.create_counter(
    "ehx.quarantined", unit="{record}", description="Records and messages refused, by stage."
)
consumer_lag = meter.create_histogram(
    "ehx.consumer.lag",
    unit="s",
    description=(
        "How far behind its topic a stage is: now minus the message's broker timestamp "
        "(time, not offsets: the embedded broker's high watermark is unreliable)."
    ),
)
end_to_end = meter.create_histogram(
    "ehx.latency.end_to_end",
    unit="s",
    description="From the adapter accepting a record to its view on a recipient's timeline.",
)


class TelemetrySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EHX_TELEMETRY_", frozen=True, extra="ignore")

    exporter: Literal["none", "console", "otlp"] = "none"
    endpoint: str | None = None
    sample_ratio: float = 1.0
    #: How often metrics are exported.
    metric_interval_ms: int = 15_000


_configured = False


def configure(
    service: str,
    settings: TelemetrySettings | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    metric_reader: MetricReader | None = None,
) -> bool:
    """Set this process's tracer and meter providers once; False if there is nothing to export.

    Tests pass an in-memory ``span_exporter`` and ``metric_reader``.
    """
    global _configured
    settings = settings or TelemetrySettings()
    if _configured:
        return True
    readers: list[MetricReader] = [metric_reader] if metric_reader else []
    if span_exporter is None:
        span_exporter, reader = exporters(settings)
        readers += [reader] if reader else []
    if span_exporter is None and not readers:
        return False
    resource = Resource.create({"service.name": f"ehx-{service}"})
    if span_exporter is not None:
        provider = TracerProvider(
            resource=resource, sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio))
        )
        provider.add_span_processor(BatchSpanProcessor(span_exporter))
        trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))
    _configured = True
    return True


def exporters(settings: TelemetrySettings) -> tuple[SpanExporter | None, MetricReader | None]:
    """What the setting asks for: spans and metrics to the console, by OTLP/HTTP, or nowhere."""
    if settings.exporter == "console":
        return ConsoleSpanExporter(), PeriodicExportingMetricReader(
            ConsoleMetricExporter(), settings.metric_interval_ms
        )
    if settings.exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base = (settings.endpoint or "").rstrip("/")
        return OTLPSpanExporter(endpoint=f"{base}/v1/traces" if base else None), (
            PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=f"{base}/v1/metrics" if base else None),
                settings.metric_interval_ms,
            )
        )
    return None, None


def tracing() -> bool:
    """Whether spans go anywhere (``configure`` set a real provider)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def header(headers: Iterable[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name:
            return value.decode("ascii", "replace")
    return None


def parent(traceparent: str | None) -> Context | None:
    """The remote context a traceparent names, if it is valid and sampled (else no span)."""
    if not traceparent:
        return None
    context = _propagator.extract({TRACEPARENT: traceparent})
    span_context = trace.get_current_span(context).get_span_context()
    return context if span_context.is_valid and span_context.trace_flags.sampled else None


def traceparent_of(span: Span) -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, trace.set_span_in_context(span))
    return carrier.get(TRACEPARENT)


def start_trace(stage: str, event_id: str, agency: str) -> Span:
    """The root span of one event's journey (the adapter's), ended by the caller."""
    return tracer.start_span(
        f"ehx.{stage}",
        kind=SpanKind.PRODUCER,
        attributes={"ehx.stage": stage, "ehx.event_id": event_id, "ehx.agency": agency},
    )


@contextmanager
def stage_spans(stage: str, traced: Sequence[tuple[str, str | None]]) -> Iterator[list[Span]]:
    """One span per sampled event of a batch, under each event's own trace; (event id, traceparent).

    The spans cover the batch's handling; an exception marks them failed with its type.
    """
    spans = []
    for event_id, traceparent in traced:
        context = parent(traceparent)
        if context is not None:
            spans.append(
                tracer.start_span(
                    f"ehx.{stage}",
                    context=context,
                    kind=SpanKind.CONSUMER,
                    attributes={"ehx.stage": stage, "ehx.event_id": event_id},
                )
            )
    try:
        yield spans
    except BaseException as exc:
        for span in spans:
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        for span in spans:
            span.end()


def record_batch(stage: str, records: Sequence[Any]) -> None:
    """Events in and consumer lag for a batch of aiokafka records."""
    if not records:
        return
    events_in.add(len(records), {"ehx.stage": stage})
    now_ms = time.time() * 1000
    for record in records:
        if getattr(record, "timestamp", None):
            consumer_lag.record(max(0.0, (now_ms - record.timestamp) / 1000), {"ehx.stage": stage})


def accepted_now() -> bytes:
    return str(int(time.time() * 1000)).encode()


def observe_end_to_end(stage: str, accepted_at: str | None) -> None:
    if accepted_at and accepted_at.isdigit():
        seconds = max(0.0, time.time() - int(accepted_at) / 1000)
        end_to_end.record(seconds, {"ehx.stage": stage})
