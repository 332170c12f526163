"""``EHX_TELEMETRY_EXPORTER`` picks where spans and metrics go; a traceparent is only
followed when it is valid and sampled."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from ehx.broker import telemetry


def test_otlp_sends_to_the_collector_named_and_console_prints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EHX_TELEMETRY_EXPORTER", "otlp")
    monkeypatch.setenv("EHX_TELEMETRY_ENDPOINT", "http://otel-collector:4318/")
    spans, metrics = telemetry.exporters(telemetry.TelemetrySettings())
    assert isinstance(spans, OTLPSpanExporter) and metrics is not None
    assert spans._endpoint == "http://otel-collector:4318/v1/traces"
    metrics.shutdown()
    spans.shutdown()  # type: ignore[no-untyped-call]

    monkeypatch.setenv("EHX_TELEMETRY_EXPORTER", "console")
    spans, metrics = telemetry.exporters(telemetry.TelemetrySettings())
    assert isinstance(spans, ConsoleSpanExporter) and metrics is not None
    metrics.shutdown()

    monkeypatch.setenv("EHX_TELEMETRY_EXPORTER", "none")
    assert telemetry.exporters(telemetry.TelemetrySettings()) == (None, None)


def test_only_a_valid_sampled_traceparent_is_followed() -> None:
    sampled = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    assert telemetry.parent(sampled) is not None
    assert telemetry.parent(sampled[:-2] + "00") is None  # not sampled: no span downstream
    assert telemetry.parent("00-not-a-trace") is None
    assert telemetry.parent(None) is None
