"""Time as SuperOffice writes it: UTC, ISO 8601 without an offset."""

from __future__ import annotations

from datetime import UTC, datetime

SO_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


def utc_now() -> datetime:
    """The current UTC time without tzinfo and without microseconds, as stored."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def format_so_datetime(*, moment: datetime) -> str:
    return moment.strftime(SO_DATETIME_FORMAT)


def parse_so_datetime(*, text: str) -> datetime:
    """Parse ``2024-05-01``, ``2024-05-01T10:00:00`` or the same with ``Z``/offset (dropped)."""
    cleaned = text.strip().replace(" ", "T")
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1]
    parsed = datetime.fromisoformat(cleaned)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
