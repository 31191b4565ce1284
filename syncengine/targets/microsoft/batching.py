"""Writes and reads of many contacts at once, as Graph `$batch` requests of ≤ 20.

Each write is a small state machine: the request it sends next, and what it makes of its
own answer. A batch's answer is judged sub-request by sub-request — one throttled (429
inside a 200) is sent again after its Retry-After in a later batch, on its own, while the
others are done. Batches go out on up to `concurrency` threads; the mailbox budget keeps
every worker within Outlook's limits.

Safety, as for CardDAV: updates and deletes carry `If-Match`; a contact edited in Outlook
(412) is read again with our mark expanded, and overwritten (CRM wins) only when it still
carries our mark. A create whose answer was lost is looked up by its mark before it is
sent again, so it can never make a second copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from syncengine.targets.base import (
    ContactExists,
    ContactGone,
    Create,
    Delete,
    OwnContact,
    TargetError,
    Update,
    Write,
    WriteOutcome,
    WrittenContact,
)
from syncengine.targets.microsoft.contacts import (
    MARK_EXPAND,
    contact_json,
    create_json,
    etag_of,
    mark_filter,
    mark_of,
    person_id_of,
    query,
)
from syncengine.targets.microsoft.graph import (
    BATCH_LIMIT,
    RETRY_AFTER_CAP_SECONDS,
    AnswerLost,
    GraphClient,
    GraphResponse,
    SubRequest,
    path_segment,
)

# How often one write may be throttled, or lose its answer, before it is left to the next run.
MAX_THROTTLED = 5
MAX_LOST = 3
FOLDER_GONE = "The contact folder is gone"
LATER = "the next run tries again."


class FolderGone(TargetError):
    """A create found no folder to go into (the user deleted it): find or make it again."""


@dataclass
class Job:
    """One write (or one read of a mark) on its way through batches."""

    write: Write | str  # a ref, for a read of its mark
    contacts_url: str  # the folder's contacts collection, under /v1.0
    step: str = "send"  # "send", "lookup" (a create's lost answer), "reread" (after a 412)
    etag: str = ""
    rewritten: bool = False
    not_before: float = 0.0
    throttled: int = 0
    lost: int = 0
    done: bool = False
    # For a read: False when the contact is no longer there at all.
    present: bool = True
    outcome: WriteOutcome | OwnContact = None
    label: str = field(init=False)

    def __post_init__(self) -> None:
        write = self.write
        if isinstance(write, Create | Update):
            self.label = write.card.display_name
        else:
            self.label = write.uid if isinstance(write, Delete) else write
        if isinstance(write, Update | Delete):
            self.etag = write.etag

    def finish(self, outcome: WriteOutcome | OwnContact) -> None:
        self.done, self.outcome = True, outcome

    def item_url(self, ref: str) -> str:
        return f"{self.contacts_url}/{path_segment(ref)}"

    # -- what to send ------------------------------------------------------------------------

    def request(self) -> SubRequest:
        write = self.write
        if isinstance(write, str):
            return self._read(write)
        if isinstance(write, Create):
            if self.step == "lookup":
                params = {"$filter": mark_filter(write.card.uid), "$select": "id,changeKey"}
                return SubRequest("GET", f"{self.contacts_url}?{query(params)}")
            return SubRequest("POST", self.contacts_url, body=create_json(card=write.card))
        if self.step == "reread":
            return self._read(write.ref)
        headers = {"If-Match": self.etag} if self.etag else {}
        if isinstance(write, Update):
            return SubRequest(
                "PATCH",
                self.item_url(write.ref),
                body=contact_json(card=write.card),
                headers=headers,
            )
        return SubRequest("DELETE", self.item_url(write.ref), headers=headers)

    def _read(self, ref: str) -> SubRequest:
        # Only the id, version and our mark: a contact that is not ours is never read.
        params = {"$select": "id,changeKey", "$expand": MARK_EXPAND}
        return SubRequest("GET", f"{self.item_url(ref)}?{query(params)}")

    # -- what the answer means -----------------------------------------------------------------

    def answer(self, response: GraphResponse, *, now: float) -> None:
        if response.status == 429:
            self.throttled += 1
            if self.throttled > MAX_THROTTLED:
                self.finish(
                    TargetError(
                        f"Microsoft 365 kept throttling {self.label}; the next run tries again."
                    )
                )
                return
            wait = response.retry_after()
            if wait is not None and wait > RETRY_AFTER_CAP_SECONDS:
                self.finish(
                    TargetError(
                        f"Microsoft 365 asked to wait {wait:.0f} s before {self.label}; "
                        "the next run tries again."
                    )
                )
                return
            self.not_before = now + (wait if wait is not None else 2.0**self.throttled)
            return
        if response.status == 0 or response.status >= 500:
            self.answer_lost(f"{response.describe()}")
            return
        write = self.write
        if isinstance(write, str):
            self._mark_read(write, response)
        elif isinstance(write, Create):
            self._created(write, response)
        elif self.step == "reread":
            self._reread(write, response)
        else:
            self._changed(write, response)

    def answer_lost(self, why: str) -> None:
        """The answer never came: a create may have happened, so look for it first."""
        self.lost += 1
        if self.lost > MAX_LOST:
            self.finish(
                TargetError(f"Microsoft 365 did not answer for {self.label} ({why}); {LATER}")
            )
        elif isinstance(self.write, Create):
            self.step = "lookup"

    def _mark_read(self, ref: str, response: GraphResponse) -> None:
        if response.status == 404:
            self.present = False
            self.finish(None)
            return
        if response.status != 200:
            self.finish(TargetError(f"Reading {ref} failed: {response.describe()}"))
            return
        uid = mark_of(response.body)
        person_id = person_id_of(uid) if uid else None
        if uid is None or person_id is None:
            self.finish(None)  # there, but not ours
            return
        self.finish(OwnContact(uid=uid, person_id=person_id, ref=ref, etag=etag_of(response.body)))

    def _created(self, write: Create, response: GraphResponse) -> None:
        if self.step == "lookup":
            if response.status != 200:
                self.finish(self._refused(response, doing="looking up"))
                return
            found = response.body.get("value") or []
            if found:
                existing = WrittenContact(ref=str(found[0]["id"]), etag=etag_of(found[0]))
                self.finish(ContactExists(existing))
            else:
                self.step = "send"  # not there: the create never happened, send it again
            return
        if response.status in (200, 201):
            self.finish(WrittenContact(ref=str(response.body["id"]), etag=etag_of(response.body)))
        elif response.status == 404:
            self.finish(FolderGone(f"{FOLDER_GONE} (creating {self.label})."))
        else:
            self.finish(self._refused(response, doing="creating"))

    def _changed(self, write: Update | Delete, response: GraphResponse) -> None:
        if response.status in (200, 201, 204):
            if isinstance(write, Update):
                ref = str(response.body.get("id") or write.ref)
                self.finish(WrittenContact(ref=ref, etag=etag_of(response.body)))
            else:
                self.finish(None)
        elif response.status == 404:
            self.finish(ContactGone(f"{self.label} is no longer in the contact folder."))
        elif response.status == 412 and not self.rewritten:
            # Edited in Outlook since our last write: read it again and look at our mark.
            self.step = "reread"
        elif response.status == 412:
            self.finish(
                TargetError(
                    f"{self.label} was changed in Outlook while we wrote; the next run tries again."
                )
            )
        else:
            doing = "updating" if isinstance(write, Update) else "deleting"
            self.finish(self._refused(response, doing=doing))

    def _reread(self, write: Update | Delete, response: GraphResponse) -> None:
        if response.status == 404:
            self.finish(ContactGone(f"{self.label} is no longer in the contact folder."))
            return
        if response.status != 200:
            self.finish(self._refused(response, doing="reading"))
            return
        uid = write.card.uid if isinstance(write, Update) else write.uid
        if mark_of(response.body) != uid:
            text = (
                f"The contact {self.label} no longer carries Synchronizer's mark, so it was "
                "left untouched."
            )
            # A delete's contact is simply no longer ours: the engine forgets it (as CardDAV).
            self.finish(TargetError(text) if isinstance(write, Update) else ContactGone(text))
            return
        # Ours still: CRM wins, with the version just read.
        self.etag, self.step, self.rewritten = etag_of(response.body), "send", True

    def _refused(self, response: GraphResponse, *, doing: str) -> TargetError:
        return TargetError(
            f"Microsoft 365 answered {response.describe()} while {doing} {self.label}."
        )


class BatchRunner:
    """Sends jobs in `$batch`es of ≤ 20 on up to `concurrency` threads until all are done."""

    def __init__(
        self,
        *,
        client: GraphClient,
        concurrency: int,
        after_round: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.concurrency = max(1, concurrency)
        # A batch must fit the mailbox's window whole (only a tiny budget is smaller).
        budget = client.budget.budget if client.budget is not None else BATCH_LIMIT
        self.batch_limit = max(1, min(BATCH_LIMIT, budget))
        # Called on the calling thread after each round (to save a rotated refresh token).
        self.after_round = after_round
        self.clock = clock

    def run(self, jobs: Sequence[Job], *, doing: str) -> None:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            while True:
                waiting = [job for job in jobs if not job.done]
                if not waiting:
                    return
                now = self.clock()
                ready = [job for job in waiting if job.not_before <= now]
                if not ready:
                    self.client.sleep(min(job.not_before for job in waiting) - now)
                    continue
                size = self.batch_limit
                chunks = [ready[i : i + size] for i in range(0, len(ready), size)]
                futures = [
                    pool.submit(self.client.batch, [job.request() for job in chunk], doing=doing)
                    for chunk in chunks
                ]
                try:
                    for chunk, future in zip(chunks, futures, strict=True):
                        self._settle(chunk, future.result)
                finally:
                    self.after_round()

    def _settle(self, chunk: list[Job], result: Callable[[], list[GraphResponse]]) -> None:
        try:
            responses = result()
        except AnswerLost as lost:
            for job in chunk:
                job.answer_lost(str(lost))
            return
        except TargetError as error:
            if error.permanent:
                raise
            for job in chunk:
                job.finish(error)
            return
        now = self.clock()
        for job, response in zip(chunk, responses, strict=True):
            self.client.raise_for_mailbox(response, doing=f"writing {job.label}")
            wait = response.retry_after() if response.status == 429 else None
            if wait is not None and self.client.budget is not None:
                # Throttled inside the batch: every worker holds back for this mailbox.
                self.client.budget.pause(
                    mailbox=self.client.mailbox, seconds=min(wait, RETRY_AFTER_CAP_SECONDS)
                )
            job.answer(response, now=now)
