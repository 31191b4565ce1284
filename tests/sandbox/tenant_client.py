"""A minimal tenant API client for the sandbox tests: a token, a base URL, GET/POST."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from sandbox.testing import sign_in

ADMIN_EMAIL = "ingrid.haugen@nordlys-demo.example"
USER_EMAIL = "ola.berg@nordlys-demo.example"
SHARED_EMAIL = "lars.lund@konsulent.example"
OTHER_TENANT_ADMIN_EMAIL = "astrid.svensson@fjallvind.example"
TENANT = "Cust10001"
OTHER_TENANT = "Cust20002"


@dataclass
class TenantApi:
    base_url: str
    tenant: str
    tokens: dict[str, Any]

    @classmethod
    def signed_in(cls, *, base_url: str, email: str, tenant: str = TENANT) -> TenantApi:
        return cls(
            base_url=base_url,
            tenant=tenant,
            tokens=sign_in(base_url=base_url, email=email, tenant=tenant),
        )

    @property
    def access_token(self) -> str:
        return str(self.tokens["access_token"])

    def url(self, path: str, *, tenant: str | None = None) -> str:
        return f"{self.base_url}/{tenant or self.tenant}/api/v1/{path}"

    def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        tenant: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        return requests.get(
            self.url(path, tenant=tenant),
            params=params,
            headers={"Authorization": f"Bearer {self.access_token}", **(headers or {})},
            timeout=30,
        )

    def post(self, path: str, *, json: Any = None, data: Any = None) -> requests.Response:
        return requests.post(
            self.url(path),
            json=json,
            data=data,
            headers={"Authorization": f"Bearer {self.access_token}"},
            timeout=30,
        )

    def rows(self, path: str, **params: Any) -> list[dict[str, Any]]:
        response = self.get(path, params)
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["value"]
        return rows
