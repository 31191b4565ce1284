"""One user's Outlook contact folder, written over Microsoft Graph.

With application access (an administrator consented for the organisation) the mailbox is
`/users/{id or address}` and the tokens are the app's; with delegated access the user
connected their own mailbox, it is `/me`, and their refresh token buys the tokens.

Our contacts live in one folder of the mailbox, named by the profile (found by name or made
at the first use; its id kept in TargetAccount.folder_id). Every request names that folder,
so nothing outside it is ever read, changed or deleted, and inside it only contacts with our
mark are changed (batching.py). The change feed is Graph's delta on the folder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.utils import timezone

from syncengine.rendering import ContactCard
from syncengine.targets.base import (
    Create,
    Delete,
    OwnContact,
    Target,
    TargetError,
    Update,
    Write,
    WriteOutcome,
    WrittenContact,
)
from syncengine.targets.microsoft.batching import BatchRunner, FolderGone, Job
from syncengine.targets.microsoft.budget import MailboxBudget, budget_from_settings
from syncengine.targets.microsoft.contacts import (
    MARK_EXPAND,
    etag_of,
    mark_filter,
    mark_of,
    odata_string,
    person_id_of,
    query,
)
from syncengine.targets.microsoft.graph import (
    GraphClient,
    GraphResponse,
    TokenSource,
    app_token_source,
    path_segment,
)
from syncengine.targets.microsoft.identity import (
    ConsentLost,
    consent_lost_record,
    redeem_refresh_token,
)

if TYPE_CHECKING:
    from profiles.models import MicrosoftConnection, TargetAccount

T = TypeVar("T")
LISTING_PAGE = 1000
# Delta pages hold few contacts unless asked for more (contact-delta: odata.maxpagesize).
DELTA_PAGE = 1000


class DelegatedTokens:
    """A user's tokens, bought with their refresh token. Microsoft rotates it on every
    redemption: the new one is saved at once on the thread that opened the target, or,
    when a batch thread had to redeem it, right after that round (`save_pending`)."""

    def __init__(self, *, target_account: TargetAccount) -> None:
        self.account = target_account
        self.owner = threading.get_ident()
        self.pending = False
        self.lost = ""

    def __call__(self, *, fresh: bool) -> str:
        try:
            token = redeem_refresh_token(target_account=self.account)
        except ConsentLost as lost:
            self.lost = str(lost)
            self.save_pending()
            raise
        if token.refresh_token and token.refresh_token != self.account.secret:
            self.account.secret = token.refresh_token
            self.pending = True
        self.save_pending()
        return token.access_token

    def save_pending(self) -> None:
        if threading.get_ident() != self.owner:
            return  # the database belongs to the calling thread
        if self.pending:
            self.pending = False
            self.account.save(update_fields=["secret", "updated_at"])
        if self.lost:
            consent_lost_record(target_account=self.account, message=self.lost)
            self.lost = ""


class GraphTarget(Target):
    """Our contacts in one Outlook contact folder."""

    batch_size = 80

    def __init__(
        self,
        *,
        account: TargetAccount,
        mailbox_path: str,
        folder_name: str,
        tokens: TokenSource,
        budget: MailboxBudget | None,
        concurrency: int,
    ) -> None:
        self.account = account
        self._cursor_pending = ""
        self.mailbox_path = mailbox_path
        self.folder_name = folder_name
        self.tokens = tokens
        mailbox = account.remote_user_id or account.username or mailbox_path
        self.client = GraphClient(tokens=tokens, mailbox=mailbox, budget=budget)
        self.runner = BatchRunner(
            client=self.client, concurrency=concurrency, after_round=self._after_round
        )

    @classmethod
    def from_account(cls, *, target_account: TargetAccount) -> GraphTarget:
        from profiles.models import MicrosoftAccess

        connection: MicrosoftConnection | None = getattr(
            target_account.linked_user.profile, "microsoft_connection", None
        )
        if connection is None:
            raise TargetError(
                "This profile has no Microsoft 365 connection yet; an administrator sets it "
                "up on the profile page.",
                permanent=True,
            )
        tokens: TokenSource
        if connection.access == MicrosoftAccess.DELEGATED:
            tokens, path = DelegatedTokens(target_account=target_account), "/me"
        else:
            mailbox = target_account.remote_user_id or target_account.username
            if not mailbox:
                raise TargetError(
                    "No Microsoft 365 mailbox is set for this user; link them to one of the "
                    "organisation's users on the profile page.",
                    permanent=True,
                )
            tokens = app_token_source(directory_id=connection.directory_id)
            path = f"/users/{path_segment(mailbox)}"
        target = cls(
            account=target_account,
            mailbox_path=path,
            folder_name=connection.folder_name or "SuperOffice",
            tokens=tokens,
            budget=budget_from_settings(),
            concurrency=settings.MICROSOFT_MAILBOX_CONCURRENCY,
        )
        try:
            # The first token now, on this thread: a refused consent is told at once.
            target.client.token()
        except ConsentLost as lost:
            target.refusal_record(error=lost)
            raise
        return target

    def refusal_record(self, *, error: TargetError) -> None:
        """A withdrawn consent goes on the organisation's connection (application access)
        or the user's mailbox (delegated), where the pages tell it and runs wait on it."""
        if not isinstance(error, ConsentLost):
            return
        if isinstance(self.tokens, DelegatedTokens):
            consent_lost_record(target_account=self.account, message=str(error))
            return
        connection = self.account.linked_user.profile.microsoft_connection
        connection.failure, connection.failed_at = str(error)[:500], timezone.now()
        connection.save(update_fields=["failure", "failed_at", "updated_at"])

    def _after_round(self) -> None:
        if isinstance(self.tokens, DelegatedTokens):
            self.tokens.save_pending()

    # -- the folder ----------------------------------------------------------------------------

    @property
    def folder_id(self) -> str:
        if not self.account.folder_id:
            self._folder_found_or_made()
        return self.account.folder_id

    @property
    def contacts_url(self) -> str:
        return f"{self.mailbox_path}/contactFolders/{path_segment(self.folder_id)}/contacts"

    def _folder_found_or_made(self) -> None:
        folder_id = self._folder_by_name() or self._folder_made()
        self.account.folder_id = folder_id
        self.account.save(update_fields=["folder_id", "updated_at"])

    def _folder_by_name(self) -> str | None:
        params = {"$filter": f"displayName eq {odata_string(self.folder_name)}", "$select": "id"}
        doing = f"looking for the contact folder “{self.folder_name}”"
        for page in self.client.get_pages(
            f"{self.mailbox_path}/contactFolders?{query(params)}", doing=doing
        ):
            for folder in page.get("value") or []:
                return str(folder["id"])
        return None

    def _folder_made(self) -> str:
        doing = f"making the contact folder “{self.folder_name}”"
        response = self.client.request(
            "POST",
            f"{self.mailbox_path}/contactFolders",
            body={"displayName": self.folder_name},
            headers={"Content-Type": "application/json"},
            idempotent=False,
            doing=doing,
        )
        if response.status in (200, 201):
            return str(response.body["id"])
        if response.status == 409:
            # Made meanwhile by another run (nameAlreadyExists): use that one.
            found = self._folder_by_name()
            if found:
                return found
        raise self.client.unexpected(response, doing=doing)

    def _in_folder(self, read: Callable[[], T]) -> T:
        """Run `read`; when the saved folder is gone (404), find or make it and run again."""
        try:
            return read()
        except FolderGone:
            self._folder_found_or_made()
            return read()

    def _pages(self, params: dict[str, str], *, doing: str) -> Iterator[dict[str, Any]]:
        url = f"{self.contacts_url}?{query(params)}"
        first = self.client.request("GET", url, doing=doing)
        if first.status == 404:
            raise FolderGone(f"The contact folder is gone ({doing}).")
        if first.status != 200:
            raise self.client.unexpected(first, doing=doing)
        yield first.body
        link = first.body.get("@odata.nextLink")
        if link:
            yield from self.client.get_pages(str(link), doing=doing)

    # -- writes ----------------------------------------------------------------------------------

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        jobs = [Job(write=write, contacts_url=self.contacts_url) for write in writes]
        self.runner.run(jobs, doing="writing contacts")
        gone = [job for job in jobs if isinstance(job.outcome, FolderGone)]
        if gone:
            # The user deleted our folder (and our contacts with it): make it again, once.
            self._folder_found_or_made()
            retry = [Job(write=job.write, contacts_url=self.contacts_url) for job in gone]
            self.runner.run(retry, doing="writing contacts")
            for job, again in zip(gone, retry, strict=True):
                job.outcome = again.outcome
        outcomes: list[WriteOutcome] = []
        for job in jobs:
            outcome = job.outcome
            if isinstance(outcome, OwnContact):  # only reads give those
                raise AssertionError("a write answered with a mark")
            outcomes.append(outcome)
        return outcomes

    def _one(self, write: Write) -> WriteOutcome:
        outcome = self.write_many([write])[0]
        if isinstance(outcome, TargetError):
            raise outcome
        return outcome

    def create(self, *, card: ContactCard) -> WrittenContact:
        written = self._one(Create(card=card))
        assert isinstance(written, WrittenContact)
        return written

    def update(self, *, ref: str, etag: str, card: ContactCard) -> WrittenContact:
        written = self._one(Update(ref=ref, etag=etag, card=card))
        assert isinstance(written, WrittenContact)
        return written

    def delete(self, *, ref: str, etag: str, uid: str) -> None:
        self._one(Delete(ref=ref, etag=etag, uid=uid))

    # -- reads -----------------------------------------------------------------------------------

    def find(self, uid: str) -> WrittenContact | None:
        params = {"$filter": mark_filter(uid), "$select": "id,changeKey", "$top": "2"}

        def read() -> WrittenContact | None:
            for page in self._pages(params, doing=f"looking up {uid}"):
                for contact in page.get("value") or []:
                    return WrittenContact(ref=str(contact["id"]), etag=etag_of(contact))
            return None

        return self._in_folder(read)

    def listing(self) -> dict[str, str]:
        """Every contact in our folder, ours or not: id → version; no contents read."""
        params = {"$select": "id,changeKey", "$top": str(LISTING_PAGE)}

        def read() -> dict[str, str]:
            return {
                str(contact["id"]): etag_of(contact)
                for page in self._pages(params, doing="listing the contact folder")
                for contact in page.get("value") or []
            }

        return self._in_folder(read)

    def list_own(self) -> list[OwnContact]:
        params = {"$select": "id,changeKey", "$expand": MARK_EXPAND, "$top": str(LISTING_PAGE)}

        def read() -> list[OwnContact]:
            own: list[OwnContact] = []
            for page in self._pages(params, doing="reading our marks in the contact folder"):
                for contact in page.get("value") or []:
                    uid = mark_of(contact)
                    person_id = person_id_of(uid) if uid else None
                    if uid and person_id is not None:
                        own.append(
                            OwnContact(
                                uid=uid,
                                person_id=person_id,
                                ref=str(contact["id"]),
                                etag=etag_of(contact),
                            )
                        )
            return own

        return self._in_folder(read)

    def marks(self, refs: Collection[str]) -> dict[str, OwnContact | None]:
        jobs = [Job(write=ref, contacts_url=self.contacts_url) for ref in sorted(refs)]
        self.runner.run(jobs, doing="reading our marks")
        found: dict[str, OwnContact | None] = {}
        for job in jobs:
            if isinstance(job.outcome, TargetError):
                raise job.outcome
            if job.present:
                found[str(job.write)] = job.outcome if isinstance(job.outcome, OwnContact) else None
        return found

    def ref_for(self, uid: str) -> str | None:
        return None  # Graph names its contacts itself

    def uid_at(self, ref: str) -> str | None:
        return None

    # -- the change feed -------------------------------------------------------------------------

    def changes(self) -> dict[str, str | None] | None:
        """Contacts changed in the folder since the last call (Graph delta): id → version,
        None for a contact removed. With no cursor, or one Microsoft no longer knows (410),
        a full round only finds the link to start from next time, and None is returned."""
        cursor = self.account.change_cursor
        if cursor:
            try:
                changed, link = self._delta_round(cursor)
            except _DeltaExpired:
                cursor = ""
            else:
                # Saved once the engine recorded them: a run that dies before that reads
                # the same changes again.
                self._cursor_pending = link
                return changed
        _, link = self._in_folder(lambda: self._delta_round(self._delta_start()))
        self._cursor_save(link)
        return None

    def _delta_start(self) -> str:
        return f"{self.contacts_url}/delta?$select=id,changeKey"

    def _delta_round(self, url: str) -> tuple[dict[str, str | None], str]:
        changed: dict[str, str | None] = {}
        next_url: str | None = url
        doing = "reading changes in the contact folder"
        while next_url:
            response = self.client.request(
                "GET", next_url, headers={"Prefer": f"odata.maxpagesize={DELTA_PAGE}"}, doing=doing
            )
            if _expired(response):
                raise _DeltaExpired()
            if response.status == 404:
                raise FolderGone(f"The contact folder is gone ({doing}).")
            if response.status != 200:
                raise self.client.unexpected(response, doing=doing)
            for item in response.body.get("value") or []:
                # The same contact can come twice in a round: the last word wins.
                changed[str(item["id"])] = None if "@removed" in item else etag_of(item)
            link = response.body.get("@odata.deltaLink")
            if link:
                return changed, str(link)
            next_link = response.body.get("@odata.nextLink")
            next_url = str(next_link) if next_link else None
        raise TargetError(f"Microsoft 365 ended a delta round without a deltaLink while {doing}.")

    def changes_acknowledge(self) -> None:
        if self._cursor_pending:
            self._cursor_save(self._cursor_pending)
            self._cursor_pending = ""

    def _cursor_save(self, link: str) -> None:
        self.account.change_cursor = link
        self.account.save(update_fields=["change_cursor", "updated_at"])

    def close(self) -> None:
        self.client.close()


class _DeltaExpired(Exception):
    pass


def _expired(response: GraphResponse) -> bool:
    """410 Gone, or the codes Graph gives a delta token it no longer knows."""
    return response.status == 410 or response.error_code in ("syncStateNotFound", "resyncRequired")
