"""Metrics for an existing monitoring stack (Prometheus text format at /metrics/).

Everything is computed when scraped, from the database and the broker, so web processes
and workers on any number of machines need no shared metrics state.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import redis
from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from profiles.models import LinkedUser
from syncengine.models import RunStatus, SyncRun

# Seconds: a regular run takes a few, a big first run minutes.
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0)
QUEUES = ("celery",)


def broker_queue_depths() -> dict[str, int]:
    """Messages waiting in each queue (Celery's Redis transport keeps a list per queue)."""
    with redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2) as client:
        return {queue: int(client.llen(queue)) for queue in QUEUES}


class SyncMetricsCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        last_hour = SyncRun.objects.filter(finished_at__gte=now - timedelta(hours=1))

        runs = GaugeMetricFamily(
            "synchronizer_sync_runs_last_hour",
            "Runs finished in the last hour, by kind and status.",
            labels=["kind", "status"],
        )
        for row in last_hour.values("kind", "status").annotate(n=Count("pk")):
            runs.add_metric([row["kind"], row["status"]], row["n"])
        yield runs

        open_runs = GaugeMetricFamily(
            "synchronizer_sync_runs_open", "Runs queued or running now.", labels=["status"]
        )
        for status in (RunStatus.QUEUED, RunStatus.RUNNING):
            open_runs.add_metric([status], SyncRun.objects.filter(status=status).count())
        yield open_runs

        duration = ExpressionWrapper(
            F("finished_at") - F("started_at"), output_field=DurationField()
        )
        timed = last_hour.filter(started_at__isnull=False).annotate(duration=duration)
        buckets = timed.aggregate(
            **{
                f"le_{index}": Count("pk", filter=Q(duration__lte=timedelta(seconds=bound)))
                for index, bound in enumerate(DURATION_BUCKETS)
            },
            total=Count("pk"),
            seconds=Sum("duration"),
        )
        histogram = GaugeHistogramMetricFamily(
            "synchronizer_sync_run_duration_seconds",
            "How long runs finished in the last hour took.",
            buckets=[
                *(
                    (str(bound), buckets[f"le_{index}"])
                    for index, bound in enumerate(DURATION_BUCKETS)
                ),
                ("+Inf", buckets["total"]),
            ],
            gsum_value=buckets["seconds"].total_seconds() if buckets["seconds"] else 0.0,
        )
        yield histogram

        costs = last_hour.aggregate(
            superoffice=Sum("superoffice_requests"), target=Sum("target_requests")
        )
        requests = GaugeMetricFamily(
            "synchronizer_requests_last_hour",
            "Requests made by runs finished in the last hour, by service.",
            labels=["service"],
        )
        requests.add_metric(["superoffice"], costs["superoffice"] or 0)
        requests.add_metric(["target"], costs["target"] or 0)
        yield requests

        users = GaugeMetricFamily(
            "synchronizer_linked_users", "Linked users by state.", labels=["state"]
        )
        alive = LinkedUser.objects.alive().filter(profile__deleted_at__isnull=True)
        users.add_metric(["enabled"], alive.filter(is_enabled=True).count())
        users.add_metric(["disabled"], alive.filter(is_enabled=False).count())
        users.add_metric(
            ["waiting_for_sign_in"],
            alive.filter(
                Q(user__isnull=True) | Q(user__superoffice_token__refresh_failed_at__isnull=False)
            ).count(),
        )
        yield users

        depth = GaugeMetricFamily(
            "synchronizer_queue_depth", "Tasks waiting in the broker.", labels=["queue"]
        )
        try:
            for queue, count in broker_queue_depths().items():
                depth.add_metric([queue], count)
        except redis.RedisError:
            pass  # the health endpoint reports a broker that is down
        yield depth


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus scrape endpoint. With METRICS_TOKEN set, scrapers send it as a bearer
    token; anyone else gets a 404, as if there were nothing here."""
    token = settings.METRICS_TOKEN
    if token and not constant_time_compare(
        request.headers.get("Authorization", ""), f"Bearer {token}"
    ):
        raise Http404
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SyncMetricsCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
