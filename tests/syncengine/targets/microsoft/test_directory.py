"""The organisation's users, as Link Users lists them, read from the stand-in's Graph."""

from __future__ import annotations

import pytest

from sandbox.microsoft.testing import MicrosoftControl
from syncengine.targets.microsoft.directory import DirectoryUser, organisation_users
from syncengine.targets.microsoft.identity import ConsentLost
from tests.syncengine.targets.microsoft.conftest import Organisation


def test_every_user_of_the_organisation_and_no_other_is_listed(
    microsoft: MicrosoftControl, organisation: Organisation
) -> None:
    bo = microsoft.user_create(
        directory_id=organisation.directory_id, display_name="Bo Ek", mail="bo@contoso.example"
    )
    elsewhere = microsoft.directory_create(name="Fabrikam", domain="fabrikam.example")
    microsoft.user_create(directory_id=elsewhere, display_name="Cy Ro", mail="cy@fabrikam.example")

    users = organisation_users(directory_id=organisation.directory_id)

    assert sorted(users, key=lambda user: user.mail) == [
        DirectoryUser(
            id=organisation.user["id"],
            display_name="Ann Lee",
            mail="ann@contoso.example",
            user_principal_name="ann@contoso.example",
        ),
        DirectoryUser(
            id=bo["id"],
            display_name="Bo Ek",
            mail="bo@contoso.example",
            user_principal_name="bo@contoso.example",
        ),
    ]


def test_an_organisation_that_withdrew_its_consent_is_told_in_words(
    microsoft: MicrosoftControl, organisation: Organisation
) -> None:
    microsoft.consent_set(directory_id=organisation.directory_id, granted=False)

    with pytest.raises(ConsentLost, match="must grant consent again"):
        organisation_users(directory_id=organisation.directory_id)
