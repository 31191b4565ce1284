"""Targets: where contact cards are written. One module per kind, listed in TARGETS."""

from __future__ import annotations

from collections.abc import Callable

from profiles.models import TargetAccount, TargetKind
from syncengine.targets.base import Target
from syncengine.targets.carddav import CardDAVTarget
from syncengine.targets.microsoft.target import GraphTarget

TargetFactory = Callable[[TargetAccount], Target]


def _carddav(account: TargetAccount) -> Target:
    return CardDAVTarget.from_account(target_account=account)


def _microsoft_graph(account: TargetAccount) -> Target:
    return GraphTarget.from_account(target_account=account)


# Every kind of target a profile can choose, and how to open one user's mailbox with it.
# Explicit on purpose: nothing registers itself at import time. Google is listed here
# once it exists.
TARGETS: dict[str, TargetFactory] = {
    TargetKind.CARDDAV: _carddav,
    TargetKind.MICROSOFT_GRAPH: _microsoft_graph,
}
