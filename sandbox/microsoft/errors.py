"""Graph's error answer: ``{"error": {"code", "message", "innerError"}}`` with a status."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


class GraphError(Exception):
    def __init__(
        self, *, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {"date": now, "request-id": str(uuid.uuid4()),
                               "client-request-id": str(uuid.uuid4())},
            }
        }  # fmt: skip


def not_found(*, what: str = "The specified object was not found in the store.") -> GraphError:
    return GraphError(status=404, code="ErrorItemNotFound", message=what)


def bad_request(*, message: str, code: str = "BadRequest") -> GraphError:
    return GraphError(status=400, code=code, message=message)


class IdentityError(Exception):
    """An identity-platform error: ``error``, an AADSTS ``code``, a description."""

    def __init__(self, *, error: str, code: int, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.code, self.description, self.status = error, code, description, status
