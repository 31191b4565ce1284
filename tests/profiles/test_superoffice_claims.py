from __future__ import annotations

import pytest
from django.test import override_settings

from profiles.superoffice.claims import CLAIM_PREFIX, MissingClaim, SuperOfficeIdentity
from profiles.superoffice.environments import superoffice_base_url, superoffice_environment_name


def _claims(**overrides: str) -> dict[str, str]:
    claims = {
        "sub": "kari@example.com",
        CLAIM_PREFIX + "ctx": "Cust12345",
        CLAIM_PREFIX + "associateid": "5",
        CLAIM_PREFIX + "is_administrator": "True",
        CLAIM_PREFIX + "email": "kari@example.com",
        CLAIM_PREFIX + "company_name": "Kari AS",
        CLAIM_PREFIX + "webapi_url": "https://sod.superoffice.com/Cust12345/api/",
    }
    claims.update({CLAIM_PREFIX + name: value for name, value in overrides.items()})
    return claims


def test_identity_from_claims() -> None:
    identity = SuperOfficeIdentity.from_claims(_claims())

    assert identity.uid == "Cust12345:5"
    assert identity.username == "Cust12345.5"
    assert identity.is_administrator is True
    assert identity.company_name == "Kari AS"


def test_email_falls_back_to_the_subject_and_admin_to_false() -> None:
    claims = _claims(email="", is_administrator="False")

    identity = SuperOfficeIdentity.from_claims(claims)

    assert identity.email == "kari@example.com"
    assert identity.is_administrator is False


@pytest.mark.parametrize(
    ("claim", "value", "message"),
    [
        ("ctx", "", "no “ctx” claim"),
        ("associateid", "", "no “associateid”"),
        ("associateid", "five", "is not a number"),
    ],
)
def test_missing_or_bad_claims_are_refused(claim: str, value: str, message: str) -> None:
    with pytest.raises(MissingClaim, match=message):
        SuperOfficeIdentity.from_claims(_claims(**{claim: value}))


@pytest.mark.parametrize(
    ("environment", "base_url", "name"),
    [
        ("sod", "https://sod.superoffice.com", "sod"),
        ("stage", "https://qaonline.superoffice.com", "stage"),
        ("online", "https://online.superoffice.com", "online"),
        ("http://127.0.0.1:8001/", "http://127.0.0.1:8001", "custom"),
    ],
)
def test_environments(environment: str, base_url: str, name: str) -> None:
    with override_settings(SUPEROFFICE_ENVIRONMENT=environment):
        assert superoffice_base_url() == base_url
        assert superoffice_environment_name() == name


def test_an_unknown_environment_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="use sod, stage, online or a base URL"):
        superoffice_base_url("production")
