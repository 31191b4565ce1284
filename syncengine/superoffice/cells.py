"""Archive cells read by their documented type.

Every archive query asks for `$output=Logical`, in which SuperOffice answers booleans as
true/false (its search page: Display mode gives icon hints instead), dates as ISO text,
and id-valued columns (int, associate, list) as numbers. A cell that does not have its
column's type means the answer is not what we asked for: it is reported, never guessed
at, because a guess (an icon hint read as "true", a name read as id 0) would silently
change which persons are synced.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

from syncengine.superoffice.errors import PermanentError

# Ask every archive for logical values; the parsers below expect them.
ARCHIVE_OUTPUT = "Logical"

_TRUE_TEXTS = {"true", "1"}
_FALSE_TEXTS = {"false", "0"}


def _unexpected(*, row: dict[str, Any], column: str, wanted: str) -> PermanentError:
    return PermanentError(
        f"SuperOffice answered {row.get(column)!r} for the {wanted} column {column}; "
        "the archive did not return logical values."
    )


def id_cell(row: dict[str, Any], column: str) -> int:
    """An int, associate or list column: the id, 0 when empty."""
    value = row.get(column)
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise _unexpected(row=row, column=column, wanted="id")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise _unexpected(row=row, column=column, wanted="id")


def bool_cell(row: dict[str, Any], column: str) -> bool:
    """A bool column: true/false (also as text or 0/1), empty as false; anything else
    (an icon hint) is refused."""
    value = row.get(column)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE_TEXTS | _FALSE_TEXTS:
        return value.strip().lower() in _TRUE_TEXTS
    raise _unexpected(row=row, column=column, wanted="boolean")


def text_cell(row: dict[str, Any], column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value).strip()


def comparable_name(name: str) -> str:
    """Names compared as people see them: case, spacing and Unicode form ignored."""
    return unicodedata.normalize("NFC", " ".join(name.split())).casefold()


def datetime_cell(row: dict[str, Any], column: str) -> datetime | None:
    """A date column: ISO text without an offset, in UTC; empty means none."""
    text = text_cell(row, column)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _unexpected(row=row, column=column, wanted="date") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
