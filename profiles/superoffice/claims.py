"""SuperOffice's id_token claims, read once into a typed value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLAIM_PREFIX = "http://schemes.superoffice.net/identity/"


class MissingClaim(ValueError):
    """The id_token lacks a claim every SuperOffice login carries."""


@dataclass(frozen=True)
class SuperOfficeIdentity:
    context_identifier: str
    associate_id: int
    email: str
    is_administrator: bool
    company_name: str
    webapi_url: str

    @property
    def uid(self) -> str:
        return f"{self.context_identifier}:{self.associate_id}"

    @property
    def username(self) -> str:
        # Django user names allow dots but not colons.
        return f"{self.context_identifier}.{self.associate_id}"

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> SuperOfficeIdentity:
        def claim(name: str, *, required: bool = True) -> str:
            value = claims.get(CLAIM_PREFIX + name)
            if value in (None, "") and required:
                raise MissingClaim(f"The SuperOffice id_token has no “{name}” claim.")
            return str(value or "")

        associate_id = claim("associateid")
        if not associate_id.isdigit():
            raise MissingClaim(f"The SuperOffice associate id “{associate_id}” is not a number.")
        return cls(
            context_identifier=claim("ctx"),
            associate_id=int(associate_id),
            email=(claim("email", required=False) or str(claims.get("sub", ""))).strip(),
            is_administrator=claim("is_administrator", required=False).lower() == "true",
            company_name=claim("company_name", required=False),
            webapi_url=claim("webapi_url", required=False),
        )
