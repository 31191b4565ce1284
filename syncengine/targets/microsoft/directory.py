"""The users of a Microsoft 365 organisation's directory, for linking associates to their
mailboxes by e-mail (application access: the app reads the directory with User.Read.All)."""

from __future__ import annotations

from dataclasses import dataclass

from syncengine.targets.microsoft.graph import GraphClient, app_token_source


@dataclass(frozen=True)
class DirectoryUser:
    id: str
    display_name: str
    mail: str
    user_principal_name: str


def organisation_users(*, directory_id: str) -> list[DirectoryUser]:
    """Every user of the organisation's directory (application access), for linking."""
    client = GraphClient(
        tokens=app_token_source(directory_id=directory_id), mailbox=directory_id, budget=None
    )
    url = "/users?$select=id,displayName,mail,userPrincipalName&$top=999"
    try:
        return [
            DirectoryUser(
                id=str(user.get("id") or ""),
                display_name=str(user.get("displayName") or ""),
                mail=str(user.get("mail") or ""),
                user_principal_name=str(user.get("userPrincipalName") or ""),
            )
            for page in client.get_pages(url, doing="listing the organisation's users")
            for user in page.get("value") or []
        ]
    finally:
        client.close()
