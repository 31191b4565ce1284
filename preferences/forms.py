"""Person Synchronization forms: a user's own values, and a profile's defaults.

Selections are typed by name, one a line, and resolved to SuperOffice selections while the
form validates, by a resolver the view passes in (it reads SuperOffice with the signed-in
person's own token). A refused name is a form error with SuperOffice's reason, and an
invalid form saves nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

from preferences.models import PendingPreferenceChange, PersonSyncPreferences
from preferences.selectors import (
    BOOLEAN_FIELDS,
    PERSON_SYNC_FIELDS,
    EffectivePreferences,
    StaticSelection,
)
from preferences.services import INHERIT
from profiles.forms import PortalForm
from profiles.models import SyncProfile

SelectionResolver = Callable[[list[str]], list[StaticSelection]]
"""Names → selections; raises ValidationError with one message per refused name."""

SWITCHES = tuple(name for name in PERSON_SYNC_FIELDS if name in BOOLEAN_FIELDS)
FAVOURITE_SWITCHES = ("sync_favourite_company_contacts", "sync_favourite_contacts")
FIELD_CHOICES = tuple(name for name in SWITCHES if name not in FAVOURITE_SWITCHES)
MAX_SELECTIONS = 20


def _label(name: str) -> str:
    field = SyncProfile._meta.get_field(name)
    assert isinstance(field, models.Field)
    return str(field.verbose_name)


def _on_off(value: bool) -> str:
    return "On" if value else "Off"


def selection_names_parse(text: str) -> list[str]:
    """One name a line; blank lines and repeats (ignoring case and spaces) dropped."""
    names: list[str] = []
    seen: set[str] = set()
    for line in text.splitlines():
        name = " ".join(line.split())
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    return names


def _selections_text(selections: tuple[StaticSelection, ...] | list[Any] | None) -> str:
    if not selections:
        return ""
    return "\n".join(
        item.name if isinstance(item, StaticSelection) else str(item["name"]) for item in selections
    )


class _SelectionsMixin(PortalForm):
    resolver: SelectionResolver

    def _resolved_selections(self, text: str) -> list[dict[str, Any]] | None:
        names = selection_names_parse(text)
        if len(names) > MAX_SELECTIONS:
            self.add_error("static_selections", f"Choose at most {MAX_SELECTIONS} selections.")
            return None
        try:
            found = self.resolver(names)
        except ValidationError as error:
            for message in error.messages:
                self.add_error("static_selections", message)
            return None
        return [{"id": selection.id, "name": selection.name} for selection in found]


class PersonSyncPreferencesForm(_SelectionsMixin):
    """A user's own values: each field either inherits the profile's default or overrides it."""

    selections_mode = forms.ChoiceField(
        label="Static selections", widget=forms.RadioSelect, initial="inherit"
    )
    static_selections = forms.CharField(
        label="My selections",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            "One selection name a line, exactly as in SuperOffice. Only static selections "
            "of persons or companies can be synced."
        ),
    )
    resync_now = forms.BooleanField(
        label="Rewrite every contact now with the field choices (a full resync)",
        required=False,
        help_text="Otherwise field choices reach existing contacts at the next daily run.",
    )

    def __init__(
        self,
        *args: Any,
        profile: SyncProfile,
        overrides: PersonSyncPreferences | None,
        resolver: SelectionResolver,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.resolver = resolver
        self.profile = profile
        defaults = profile
        own_selections = overrides.static_selections if overrides else None
        mode = self.fields["selections_mode"]
        assert isinstance(mode, forms.ChoiceField)
        profile_names = _selections_text(profile.static_selections).replace("\n", ", ")
        mode.choices = [
            ("inherit", f"As the profile: {profile_names or 'none'}"),
            ("own", "My own list"),
        ]
        self.initial.setdefault("selections_mode", "inherit" if own_selections is None else "own")
        self.initial.setdefault("static_selections", _selections_text(own_selections))
        for name in SWITCHES:
            override = getattr(overrides, name) if overrides else None
            self.fields[name] = forms.ChoiceField(
                label=_label(name),
                widget=forms.RadioSelect,
                choices=[
                    ("inherit", f"As the profile ({_on_off(getattr(defaults, name))})"),
                    ("on", "On"),
                    ("off", "Off"),
                ],
            )
            self.initial.setdefault(
                name, "inherit" if override is None else ("on" if override else "off")
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("selections_mode") == "own":
            selections = self._resolved_selections(cleaned.get("static_selections", ""))
            if selections is not None:
                cleaned["resolved_selections"] = selections
        return cleaned

    def changes(self) -> dict[str, Any]:
        """The changes for person_sync_preferences_update (INHERIT where chosen)."""
        data = self.cleaned_data
        changes: dict[str, Any] = {
            "static_selections": (
                INHERIT if data["selections_mode"] == "inherit" else data["resolved_selections"]
            )
        }
        for name in SWITCHES:
            choice = data[name]
            changes[name] = INHERIT if choice == "inherit" else choice == "on"
        return changes

    def switch_fields(self, names: tuple[str, ...]) -> list[forms.BoundField]:
        return [self[name] for name in names]

    @property
    def favourite_fields(self) -> list[forms.BoundField]:
        return self.switch_fields(FAVOURITE_SWITCHES)

    @property
    def field_choice_fields(self) -> list[forms.BoundField]:
        return self.switch_fields(FIELD_CHOICES)


class ProfileDefaultsForm(_SelectionsMixin):
    """The profile's Person Synchronization defaults, and whether users' own values stay."""

    static_selections = forms.CharField(
        label="Static selections",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            "One selection name a line, exactly as in SuperOffice. Only static selections "
            "of persons or companies can be synced; a few hundred members slow the first run."
        ),
    )
    overwrite = forms.ChoiceField(
        label="Users who have their own settings",
        widget=forms.RadioSelect,
        choices=[
            ("keep", "Don't overwrite user settings"),
            ("overwrite", "Overwrite user settings"),
        ],
        initial="keep",
        help_text="Overwriting makes every user of the profile use these values.",
    )
    resync_now = forms.BooleanField(
        label="Rewrite every user's contacts now with the field choices (a full resync)",
        required=False,
        help_text="Otherwise field choices reach existing contacts at each user's next daily run.",
    )

    def __init__(
        self, *args: Any, profile: SyncProfile, resolver: SelectionResolver, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.resolver = resolver
        self.initial.setdefault("static_selections", _selections_text(profile.static_selections))
        for name in SWITCHES:
            self.fields[name] = forms.BooleanField(label=_label(name), required=False)
            self.initial.setdefault(name, getattr(profile, name))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        selections = self._resolved_selections(cleaned.get("static_selections", ""))
        if selections is not None:
            cleaned["resolved_selections"] = selections
        return cleaned

    def changes(self) -> dict[str, Any]:
        data = self.cleaned_data
        changes: dict[str, Any] = {"static_selections": data["resolved_selections"]}
        changes.update({name: bool(data[name]) for name in SWITCHES})
        return changes

    @property
    def overwrite_user_settings(self) -> bool:
        return bool(self.cleaned_data["overwrite"] == "overwrite")

    @property
    def favourite_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in FAVOURITE_SWITCHES]

    @property
    def field_choice_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in FIELD_CHOICES]


class UsersCanEditForm(PortalForm):
    users_can_edit_preferences = forms.ChoiceField(
        label="Users can edit own preferences",
        widget=forms.RadioSelect,
        choices=[("on", "Yes"), ("off", "No: everyone uses the profile's values")],
    )

    @property
    def allowed(self) -> bool:
        return bool(self.cleaned_data["users_can_edit_preferences"] == "on")


def effective_summary(effective: EffectivePreferences) -> list[tuple[str, str, bool]]:
    """(label, value, inherited) for each field, for read-only display."""
    rows = [
        (
            "Static selections",
            ", ".join(selection.name for selection in effective.static_selections) or "None",
            "static_selections" in effective.inherited,
        )
    ]
    rows.extend(
        (_label(name), _on_off(getattr(effective, name)), name in effective.inherited)
        for name in SWITCHES
    )
    return rows


class ChangeDecisionForm(PortalForm):
    """Apply a held change: the computation whose figures were shown, and whether the
    administrator applies it without knowing its impact."""

    computation = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    anyway = forms.BooleanField(required=False, widget=forms.HiddenInput)


def _count(number: int, noun: str, *, zero: str | None = None) -> str:
    if number == 0 and zero is not None:
        return zero
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def change_summary(pending: PendingPreferenceChange) -> str:
    """The impact in one sentence, e.g. "12 users; 340 contacts would be added and 5,442
    removed, most for Kari Nordmann (5,442)."""
    users = _count(pending.users_affected, "user")
    added, removed = pending.contacts_added, pending.contacts_removed
    if not added and not removed:
        return f"{users}; no contacts would be added or removed."
    if not removed:
        return f"{users}; {_count(added, 'contact')} would be added and none removed."
    text = (
        f"{users}; {_count(added, 'contact', zero='no contacts')} would be added and "
        f"{removed:,} removed"
    )
    if pending.per_user:
        most = max(pending.per_user, key=lambda row: row["removed"])
        text += f", most for {most['name']} ({most['removed']:,})"
    return text + "."


def proposal_describe(pending: PendingPreferenceChange) -> list[str]:
    """What saving the change does, field by field, against the profile's current values."""
    proposal = pending.proposal
    profile = pending.profile
    lines: list[str] = []
    if proposal.get("users_can_edit") is not None:
        lines.append(
            "Users can edit own preferences: "
            + ("Yes" if proposal["users_can_edit"] else "No (everyone uses the profile's values)")
        )
    for name, value in (proposal.get("defaults") or {}).items():
        if name == "static_selections":
            before = _selections_text(profile.static_selections).replace("\n", ", ") or "None"
            after = _selections_text(value).replace("\n", ", ") or "None"
        else:
            before, after = _on_off(bool(getattr(profile, name))), _on_off(bool(value))
        if before != after:
            label = "Static selections" if name == "static_selections" else _label(name)
            lines.append(f"{label}: {before} → {after}")
    if proposal.get("overwrite_user_settings"):
        lines.append("Users' own settings of these fields are overwritten.")
    if proposal.get("resync_now"):
        lines.append("Every user's contacts are rewritten now (a full resync).")
    return lines
