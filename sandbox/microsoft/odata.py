"""The OData query options this subset understands: ``$select``, ``$top``, ``$skip``,
``$skiptoken``, the documented ``$filter`` forms and the extended-property ``$expand``."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import urlencode

from sandbox.microsoft.errors import bad_request

QUOTED = r"'((?:[^']|'')*)'"
EXTENDED_FILTER = re.compile(
    r"^singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+" + QUOTED
    + r"\s+and\s+\1/value\s+eq\s+" + QUOTED + r"\s*\)$",
    re.IGNORECASE,
)  # fmt: skip
EMAIL_FILTER = re.compile(
    r"^emailAddresses/any\(\s*(\w+)\s*:\s*\1/address\s+eq\s+" + QUOTED + r"\s*\)$", re.IGNORECASE
)
PROPERTY_FILTER = re.compile(r"^(\w+)\s+eq\s+" + QUOTED + r"$", re.IGNORECASE)
EXTENDED_EXPAND = re.compile(
    r"^singleValueExtendedProperties(?:\(\s*\$filter\s*=\s*id\s+eq\s+" + QUOTED + r"\s*\))?$",
    re.IGNORECASE,
)


def unquote_literal(text: str) -> str:
    return text.replace("''", "'")


def select_of(*, query: dict[str, str]) -> list[str] | None:
    raw = query.get("$select")
    if not raw:
        return None
    return [name.strip() for name in raw.split(",") if name.strip()]


def top_of(*, query: dict[str, str], default: int, maximum: int, cap: bool) -> int:
    """``$top``: over the maximum is capped (``cap``) or refused with 400."""
    raw = query.get("$top")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise bad_request(message=f"Invalid $top value '{raw}'") from error
    if value < 1:
        raise bad_request(message="$top must be positive")
    if value > maximum:
        if not cap:
            raise bad_request(
                message=f"Invalid page size specified: '{value}'. Must be between 1 and {maximum}."
            )
        return maximum
    return value


def skip_of(*, query: dict[str, str]) -> int:
    raw = query.get("$skip", "0")
    try:
        value = int(raw)
    except ValueError as error:
        raise bad_request(message=f"Invalid $skip value '{raw}'") from error
    return max(0, value)


def extended_filter(*, text: str) -> tuple[str, str] | None:
    """``(property id, value)`` of the documented ``Any(ep: ...)`` form."""
    match = EXTENDED_FILTER.match(text.strip())
    if match is None:
        return None
    return unquote_literal(match[2]), unquote_literal(match[3])


def email_filter(*, text: str) -> str | None:
    match = EMAIL_FILTER.match(text.strip())
    return None if match is None else unquote_literal(match[2])


def property_filter(*, text: str, allowed: tuple[str, ...]) -> tuple[str, str]:
    """``name eq 'value'`` for one of the allowed property names."""
    match = PROPERTY_FILTER.match(text.strip())
    if match is None:
        raise bad_request(message=f"Unsupported filter '{text}'", code="BadRequest")
    name = next((item for item in allowed if item.lower() == match[1].lower()), None)
    if name is None:
        raise bad_request(message=f"Filtering on '{match[1]}' is not supported")
    return name, unquote_literal(match[2])


def expanded_property_id(*, query: dict[str, str]) -> tuple[bool, str | None]:
    """Whether ``$expand`` asks for extended properties, and for which id (None: all)."""
    raw = query.get("$expand")
    if not raw:
        return False, None
    match = EXTENDED_EXPAND.match(raw.strip())
    if match is None:
        raise bad_request(message=f"Unsupported $expand '{raw}'")
    return True, unquote_literal(match[1]) if match[1] is not None else None


LINK_SAFE = "$,/:()'@"


def link(*, base: str, path: str, query: dict[str, str]) -> str:
    return f"{base}{path}?{urlencode(query, safe=LINK_SAFE)}"


def encode_token(*, payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def decode_token(*, token: str) -> dict[str, Any] | None:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None
