"""Targets: where contact cards are written. One module per kind, listed in TARGETS."""

from __future__ import annotations

from collections.abc import Callable

from profiles.models import TargetAccount, TargetKind
from syncengine.targets.base import Target
from syncengine.targets.carddav import CardDAVTarget

TargetFactory = Callable[[TargetAccount], Target]


def _carddav(account: TargetAccount) -> Target:
    return CardDAVTarget.from_account(target_account=account)


# Every kind of target a profile can choose, and how to open one user's mailbox with it.
# Explicit on purpose: nothing registers itself at import time. Microsoft 365 and
# Google are listed here once they exist.
TARGETS: dict[str, TargetFactory] = {
    TargetKind.CARDDAV: _carddav,
}
