"""Prometheus metrics for /metrics, read from Redis at scrape time.

Workers are other processes, so nothing is counted in this one: each scrape reads the status
snapshot (worker.status.snapshot, the figures `caredrip status` shows): the counters are the
totals the send path and the status callbacks keep in Redis, the gauges the due index's figures
and the open red-flag alerts (how many, and the age of the oldest).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from worker.deps import EngineDeps
from worker.status import snapshot
from worker.store import WebhookFigures

MESSAGES = ("caredrip_messages", "Messages that reached each state, by channel and program")
BACKLOG = ("caredrip_due_backlog", "Messages due now and not yet claimed, by channel")
OLDEST = ("caredrip_oldest_overdue_seconds", "Age of the oldest message due and not yet claimed")
IN_FLIGHT = ("caredrip_in_flight", "Enrollments claimed for sending and not yet finished, by channel")
DELIVERIES = ("caredrip_webhook_deliveries", "Clinic-event deliveries ended, by kind (hook, mail) and outcome")
PENDING = ("caredrip_webhook_pending", "Clinic-event deliveries waiting or being tried")
EMIT_ERRORS = ("caredrip_event_emit_errors", "Clinic events that could not be stored (logged, never raised)")
ALERTS_OPEN = ("caredrip_alerts_open", "Red-flag alerts not yet acknowledged")
ALERT_OLDEST = ("caredrip_alert_oldest_age_seconds", "Age of the oldest red-flag alert not yet acknowledged (0: none)")


class StoreCollector(Collector):
    """Reads the status snapshot of the store `engine()` returns, at each scrape."""

    def __init__(self, engine: Callable[[], EngineDeps]) -> None:
        self._engine = engine

    def describe(self) -> Iterable[Metric]:
        """The metric names, without touching Redis (registration calls this, not collect)."""
        return [
            CounterMetricFamily(*MESSAGES, labels=["state", "channel", "program"]),
            *(GaugeMetricFamily(*spec, labels=["channel"]) for spec in (BACKLOG, OLDEST, IN_FLIGHT)),
            CounterMetricFamily(*DELIVERIES, labels=["kind", "outcome"]),
            GaugeMetricFamily(*PENDING),
            CounterMetricFamily(*EMIT_ERRORS),
            GaugeMetricFamily(*ALERTS_OPEN),
            GaugeMetricFamily(*ALERT_OLDEST),
        ]

    def collect(self) -> Iterable[Metric]:
        deps = self._engine()
        snap = snapshot(deps.store, deps.clock.now())
        messages = CounterMetricFamily(*MESSAGES, labels=["state", "channel", "program"])
        for key, count in sorted(snap.totals.items()):
            messages.add_metric([key.state, key.channel, key.program], count)
        backlog, oldest, in_flight = (GaugeMetricFamily(*g, labels=["channel"]) for g in (BACKLOG, OLDEST, IN_FLIGHT))
        for channel, figures in snap.channels.items():
            backlog.add_metric([channel], figures.due_now)
            oldest.add_metric([channel], figures.oldest_overdue.total_seconds())
            in_flight.add_metric([channel], figures.in_flight)
        alerts_open = GaugeMetricFamily(*ALERTS_OPEN, value=snap.alerts.open)
        alert_oldest = GaugeMetricFamily(*ALERT_OLDEST, value=snap.alert_oldest_age.total_seconds())
        return [messages, backlog, oldest, in_flight, alerts_open, alert_oldest, *webhook_metrics(snap.webhooks)]


def webhook_metrics(figures: WebhookFigures) -> list[Metric]:
    deliveries = CounterMetricFamily(*DELIVERIES, labels=["kind", "outcome"])
    for key, count in sorted(figures.counts.items()):
        kind, _, outcome = key.partition(":")
        if kind != "emit":
            deliveries.add_metric([kind, outcome], count)
    pending = GaugeMetricFamily(*PENDING, value=figures.pending + figures.in_flight)
    errors = CounterMetricFamily(*EMIT_ERRORS, value=figures.counts.get("emit:error", 0))
    return [deliveries, pending, errors]


def make_registry(engine: Callable[[], EngineDeps]) -> CollectorRegistry:
    """A registry of its own (not the process-global one), holding only the store collector."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(StoreCollector(engine))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
