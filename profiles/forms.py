"""Forms of the admin portal (profiles, linking users) and of a user's mailbox credentials."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from profiles.models import MicrosoftAccess, SyncProfile, TargetKind

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class PortalForm(forms.Form):
    """Labels without Django's trailing colon (they read badly beside check boxes)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


def microsoft_offered() -> bool:
    """Microsoft 365 is offered only where the operator registered the app with Microsoft."""
    return bool(settings.MICROSOFT_CLIENT_ID and settings.MICROSOFT_CLIENT_SECRET)


MICROSOFT_NOT_OFFERED = (
    "Microsoft 365 is not set up on this Synchronizer yet: its operator registers the app "
    "with Microsoft and sets MICROSOFT_CLIENT_ID and MICROSOFT_CLIENT_SECRET."
)
GOOGLE_NOT_YET = "Google Contacts is coming in a later version."


class _SystemChoice(forms.RadioSelect):
    """Radio buttons where the systems that cannot be chosen (yet) are shown, disabled."""

    def __init__(self, *args: Any, unavailable: set[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unavailable = unavailable

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(*args, **kwargs)
        if str(option["value"]) in self.unavailable:
            option["attrs"]["disabled"] = True
        return option


class ProfileForm(forms.ModelForm[SyncProfile]):
    """A profile's name, its mailbox system, and for CardDAV the server its users' address
    books live on."""

    target_kind = forms.ChoiceField(
        label="Mailbox system",
        required=False,
        choices=[
            (TargetKind.CARDDAV.value, "CardDAV address book"),
            (TargetKind.MICROSOFT_GRAPH.value, "Microsoft 365"),
            (TargetKind.GOOGLE.value, "Google Contacts (coming later)"),
        ],
    )
    carddav_url = forms.URLField(
        label="CardDAV server URL",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=(
            "CardDAV only: the mailbox server's address, e.g. https://dav.example.com/. "
            "Synchronizer finds each user's address book there."
        ),
    )

    class Meta:
        model = SyncProfile
        fields = ["name", "target_kind", "carddav_url"]
        help_texts = {"name": "For example the mail system or the office it serves."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        unavailable = {TargetKind.GOOGLE.value}
        hints = [
            "Microsoft 365: a Microsoft 365 administrator connects the organisation once; "
            "no server address is needed."
        ]
        if not microsoft_offered():
            unavailable.add(TargetKind.MICROSOFT_GRAPH.value)
            hints = [MICROSOFT_NOT_OFFERED]
        # A profile already on a system that is not offered any more keeps showing it.
        unavailable.discard(self.instance.target_kind if self.instance.pk else "")
        field = self.fields["target_kind"]
        field.widget = _SystemChoice(choices=field.widget.choices, unavailable=unavailable)
        field.help_text = " ".join([*hints, GOOGLE_NOT_YET])
        self.initial.setdefault("target_kind", self.instance.target_kind or TargetKind.CARDDAV)

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not name:
            raise ValidationError("Give the profile a name.")
        return name

    def clean_target_kind(self) -> str:
        kind = str(self.cleaned_data.get("target_kind") or "")
        if not kind:
            # Forms that leave the system out keep the one the profile has.
            return str(self.instance.target_kind or TargetKind.CARDDAV)
        if kind == self.instance.target_kind and self.instance.pk:
            return kind
        if kind == TargetKind.GOOGLE:
            raise ValidationError(GOOGLE_NOT_YET)
        if kind == TargetKind.MICROSOFT_GRAPH and not microsoft_offered():
            raise ValidationError(MICROSOFT_NOT_OFFERED)
        return kind

    def clean_carddav_url(self) -> str:
        url = str(self.cleaned_data.get("carddav_url") or "")
        if self.data.get(self.add_prefix("target_kind")) == TargetKind.MICROSOFT_GRAPH:
            # Microsoft 365 needs no server; an address typed before switching is dropped.
            return self.instance.carddav_url if self.instance.pk else ""
        return url


class MicrosoftFolderForm(PortalForm):
    """The contact folder our contacts go into, in every linked user's mailbox."""

    folder_name = forms.CharField(
        label="Contact folder",
        max_length=100,
        help_text=(
            "Synchronizer's contacts go into a contact folder of this name in every linked "
            "mailbox. It can be changed until the first sync has created the folder."
        ),
    )

    def clean_folder_name(self) -> str:
        name = " ".join(str(self.cleaned_data["folder_name"]).split())
        if not name:
            raise ValidationError("Give the contact folder a name.")
        if any(char in name for char in "\\/"):
            raise ValidationError("A contact folder's name cannot hold / or \\.")
        return name


class MicrosoftAccessForm(PortalForm):
    access = forms.ChoiceField(
        label="How Synchronizer reaches the mailboxes",
        choices=MicrosoftAccess.choices,
        widget=forms.RadioSelect,
    )


class PermanentDeleteForm(PortalForm):
    """Deleting a profile for good is confirmed by typing its name."""

    confirm_name = forms.CharField(
        label="Type the profile's name to confirm", max_length=100, strip=True
    )

    def __init__(self, *args: Any, profile: SyncProfile, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profile = profile

    def clean_confirm_name(self) -> str:
        typed = str(self.cleaned_data["confirm_name"])
        if typed != self.profile.name:
            raise ValidationError(
                f"That is not the profile's name. Type “{self.profile.name}” exactly."
            )
        return typed


class CredentialsForm(PortalForm):
    """A CardDAV user name and app password; the password is never rendered back."""

    username = forms.CharField(
        label="CardDAV user name",
        max_length=254,
        help_text="Usually your e-mail address.",
    )
    password = forms.CharField(
        label="App password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, has_password: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"].help_text = (
            "An app password is stored already: leave this empty to keep it."
            if has_password
            else "Create an app password in your mailbox's security settings."
        )
        self.has_password = has_password

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.has_password and not cleaned.get("password"):
            self.add_error("password", "Type the mailbox's app password.")
        return cleaned


class AddressBookMoveForm(PortalForm):
    """Which of the address books the mailbox credentials reach to move to."""

    collection_url = forms.ChoiceField(label="Move to", widget=forms.RadioSelect)

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["collection_url"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


class LinkUserForm(PortalForm):
    """One SuperOffice user to link, with (optionally) their CardDAV credentials."""

    associate_id = forms.TypedChoiceField(label="SuperOffice user", coerce=int)
    username = forms.CharField(
        label="CardDAV user name",
        required=False,
        max_length=254,
        help_text="Leave empty to use the user's e-mail address.",
    )
    password = forms.CharField(
        label="App password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to let the user enter it under Edit credentials.",
    )

    def __init__(self, *args: Any, choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["associate_id"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = [("", "Choose a user…"), *choices]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("username") and not cleaned.get("password"):
            self.add_error(
                "password", "Type the app password too, or leave the user name empty as well."
            )
        return cleaned


class DomainLinkForm(PortalForm):
    domain = forms.CharField(
        label="E-mail domain",
        max_length=253,
        help_text="Every active SuperOffice user whose e-mail ends in @domain is linked.",
    )

    def clean_domain(self) -> str:
        domain = str(self.cleaned_data["domain"]).strip().lower().removeprefix("@")
        if not DOMAIN.match(domain):
            raise ValidationError(f"“{domain}” is not an e-mail domain, e.g. example.com.")
        return domain
