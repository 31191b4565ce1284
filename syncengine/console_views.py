"""The operator console: Django staff only; everyone else gets a 404, as if it were not
there. Thin views over syncengine.console."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from syncengine.console import queue_state, runs_needing_attention, runs_per_hour, tenants_health
from syncengine.models import SyncRun
from syncengine.orchestration import sync_run_retry

View = Callable[..., HttpResponse]
CHART_HEIGHT = 120


def staff_only(view: View) -> View:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not (request.user.is_authenticated and request.user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


@staff_only
def console(request: HttpRequest) -> HttpResponse:
    hours = runs_per_hour()
    tallest = max((hour.runs for hour in hours), default=0) or 1
    bars = []
    for index, hour in enumerate(hours):
        height = round(hour.runs * CHART_HEIGHT / tallest)
        failed_height = round(hour.failures * CHART_HEIGHT / tallest)
        bars.append(
            {
                "hour": hour.hour,
                "runs": hour.runs,
                "failures": hour.failures,
                "x": index * 12,
                "y": CHART_HEIGHT - height,
                "height": height,
                "failed_y": CHART_HEIGHT - failed_height,
                "failed_height": failed_height,
            }
        )
    context = {
        "queue": queue_state(),
        "bars": bars,
        "chart_height": CHART_HEIGHT,
        "runs_24h": sum(hour.runs for hour in hours),
        "failures_24h": sum(hour.failures for hour in hours),
        "attention": runs_needing_attention(),
        "tenants": tenants_health(),
        "flower_url": settings.FLOWER_URL,
    }
    return render(request, "operations/console.html", context)


@staff_only
@require_POST
def retry_run(request: HttpRequest, code: UUID) -> HttpResponse:
    run = get_object_or_404(SyncRun.objects.select_related("linked_user"), code=code)
    retried = sync_run_retry(run_id=run.pk)
    if retried is None:
        messages.error(
            request, f"{run.linked_user.email} cannot run now (disabled, deleted or not ready)."
        )
    else:
        messages.success(
            request,
            f"A {retried.get_kind_display().lower()} run of {run.linked_user.email} is queued.",
        )
    return redirect("operations:console")
