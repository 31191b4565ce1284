from __future__ import annotations

import io
import json
import logging

import pytest
from pythonjsonlogger.json import JsonFormatter

from synchronizer.logcontext import RunContextFilter, log_context


@pytest.fixture
def json_log() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(RunContextFilter())
    logger = logging.getLogger("tests.logcontext")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def _lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_line_inside_carries_the_ids(json_log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = json_log

    with log_context(tenant="Cust10001", linked_user="abc"):
        with log_context(run="r1"):
            logger.info("inside")
        logger.info("after the run")
    logger.info("outside")

    inside, after, outside = _lines(stream)
    assert (inside["tenant"], inside["linked_user"], inside["run"]) == ("Cust10001", "abc", "r1")
    assert "run" not in after
    assert after["tenant"] == "Cust10001"
    assert "tenant" not in outside


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="password"), log_context(password="secret"):
        pass
