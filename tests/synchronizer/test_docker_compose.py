from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml
from django.core.management import get_commands

REPO = Path(__file__).resolve().parents[2]


def _services() -> dict[str, Any]:
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services: dict[str, Any] = document["services"]
    return services


def test_every_service_of_the_design_is_there() -> None:
    assert {"web", "worker", "beat", "redis", "postgres", "flower"} <= set(_services())


def test_beat_runs_exactly_once() -> None:
    assert _services()["beat"]["deploy"]["replicas"] == 1


def test_every_command_exists_in_the_project() -> None:
    django_commands = get_commands()
    checked = 0
    for name, service in _services().items():
        command = service.get("command")
        if service.get("image", "").startswith(("redis:", "postgres:")):
            continue
        assert isinstance(command, list), f"{name} needs an explicit command"
        if command[:2] == ["python", "manage.py"]:
            assert command[2] in django_commands, f"{name}: no manage.py command {command[2]}"
        elif command[0] == "celery":
            assert command[1:3] == ["-A", "synchronizer"]
            assert command[3] in {"worker", "beat", "flower"}
            if command[3] == "flower":
                importlib.import_module("flower")
            importlib.import_module("synchronizer.celery")
        elif command[0] == "gunicorn":
            module, _, attribute = command[1].partition(":")
            assert hasattr(importlib.import_module(module), attribute)
        else:
            raise AssertionError(f"{name}: unknown command {command}")
        checked += 1
    assert checked >= 5
