"""Forms of the admin portal (profiles, linking users) and of a user's mailbox credentials."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from profiles.models import SyncProfile

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class PortalForm(forms.Form):
    """Labels without Django's trailing colon (they read badly beside check boxes)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class ProfileForm(forms.ModelForm[SyncProfile]):
    """A profile's name and the CardDAV server its users' address books live on."""

    carddav_url = forms.URLField(
        label="CardDAV server URL",
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text=(
            "The mailbox server's address, e.g. https://dav.example.com/. Synchronizer "
            "finds each user's address book there."
        ),
    )

    class Meta:
        model = SyncProfile
        fields = ["name", "carddav_url"]
        help_texts = {"name": "For example the mail system or the office it serves."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not name:
            raise ValidationError("Give the profile a name.")
        return name


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
