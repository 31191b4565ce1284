"""Forms of the sync pages that take a decision rather than settings."""

from __future__ import annotations

from django import forms

from profiles.forms import PortalForm
from syncengine.held import DECISIONS


class HeldDecisionForm(PortalForm):
    """Apply the held deletions, or keep the contacts: the button pressed names it."""

    decision = forms.ChoiceField(choices=[(choice.value, choice.label) for choice in DECISIONS])
