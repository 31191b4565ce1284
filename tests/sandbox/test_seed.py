"""Facts of the seeded data that the product, demo and benchmarks rely on."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import requests

from sandbox.testing import SandboxControl, SandboxProcess
from tests.sandbox.tenant_client import ADMIN_EMAIL, SHARED_EMAIL, TenantApi


def all_rows(api: TenantApi, path: str, **params: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    while True:
        page = api.rows(path, **params, **{"$top": "1000", "$skip": str(len(rows))})
        rows += page
        if len(page) < 1000:
            return rows


def test_two_tenants_and_a_shared_email(sandbox: SandboxControl) -> None:
    associates = sandbox.associates()

    assert len({row["tenant"] for row in associates}) >= 2
    tenants_of_shared = {row["tenant"] for row in associates if row["email"] == SHARED_EMAIL}
    assert len(tenants_of_shared) == 2
    admins = {row["tenant"] for row in associates if row["is_administrator"]}
    assert admins == {row["tenant"] for row in associates}
    admin = next(row for row in associates if row["email"] == ADMIN_EMAIL)
    assert admin["is_administrator"] is True


def test_size_of_the_first_tenant(api: TenantApi) -> None:
    persons = all_rows(
        api,
        "Person",
        **{
            "$select": (
                "personId,contactId,retired,email/emailAddress,"
                "personMobilePhone/formattedNumber,birthdate"
            ),
            "$orderBy": "personId",
        },
    )
    companies = {row["contactId"] for row in persons}

    assert len(persons) >= 5000
    assert len(companies) >= 200
    assert sum(1 for row in persons if row["retired"]) > 50
    assert any(row["email/emailAddress"] == "" for row in persons)
    assert any(row["personMobilePhone/formattedNumber"] == "" for row in persons)
    assert any(row["birthdate"] is None for row in persons)


def test_names_in_several_scripts(api: TenantApi) -> None:
    names = "".join(
        str(row["fullName"])
        for row in api.rows("Person", **{"$select": "fullName", "$top": "1000"})
    )

    assert any("\u0400" <= ch <= "\u04ff" for ch in names)  # Cyrillic
    assert any("\u0370" <= ch <= "\u03ff" for ch in names)  # Greek
    assert any("\u4e00" <= ch <= "\u9fff" for ch in names)  # Japanese kanji
    assert any(ch in "æøåÆØÅ" for ch in names)  # Norwegian


def test_selection_kinds_and_targets(api: TenantApi, other_api: TenantApi) -> None:
    selections = api.rows(
        "Selection",
        **{"$select": "selectionId,name,kind,targetTableNumber,memberCount", "$output": "Logical"},
    )
    kinds = Counter((row["kind"], row["targetTableNumber"]) for row in selections)

    assert {0, 1, 2} <= {row["kind"] for row in selections}  # Static, Dynamic, Combined
    assert {5, 6, 13} <= {row["targetTableNumber"] for row in selections}
    assert kinds[(0, 6)] >= 3
    small = [row for row in selections if row["kind"] == 0 and 0 < int(row["memberCount"]) < 100]
    assert len(small) >= 3
    assert max(int(row["memberCount"]) for row in selections) >= 5000
    other_names = {row["name"] for row in other_api.rows("Selection", **{"$select": "name"})}
    assert {"Customers", "VIP"} <= other_names & {row["name"] for row in selections}


def test_favourite_companies_include_former_employees(api: TenantApi) -> None:
    companies = api.rows(
        "Archive/contactfavourites",
        **{"$select": "contactId", "$filter": "favouriteAssociateId currentAssociate"},
    )

    assert companies
    for company in companies:
        persons = api.rows(
            f"Contact/{company['contactId']}/Persons",
            **{"$select": "retired", "$output": "Logical"},
        )
        assert any(row["retired"] for row in persons)
        assert not all(row["retired"] for row in persons)


def test_every_active_associate_has_appointments_and_favourites(
    api: TenantApi, sandbox: SandboxControl
) -> None:
    for associate in sandbox.associates():
        if associate["tenant"] != api.tenant or not associate["is_active"]:
            continue
        number = associate["associate_id"]
        assert api.rows(
            "Appointment",
            **{"$select": "appointmentId", "$filter": f"associateId associateIsOneOf ({number})"},
        )
        assert api.rows(
            "Archive/personfavourites",
            **{
                "$select": "personId",
                "$filter": f"favouriteAssociateId associateIsOneOf ({number})",
            },
        )


# Postal codes as each seeded country writes them.
POSTCODES = {
    "Norway": r"\d{4}",
    "Sweden": r"\d{3} \d{2}",
    "Germany": r"\d{5}",
    "United Kingdom": r"[A-Z]{2}\d [A-Z\d]{3}",
    "Japan": r"\d{3}-\d{4}",
    "Russia": r"\d{6}",
    "Greece": r"\d{3} \d{2}",
}
STREET_COLUMNS = ",".join(
    f"streetAddress/{part}"
    for part in ("line1", "line2", "line3", "zip", "city", "county", "state")
)


def test_companies_have_a_street_address_in_their_city(api: TenantApi) -> None:
    everyone = api.rows("Selection", **{"$select": "selectionId", "$filter": "name begins 'Nyhet'"})
    rows = all_rows(
        api,
        "Archive/ContactPersonStaticSelectionV2",
        **{
            "$select": f"contactId,country,postAddress/city,{STREET_COLUMNS}",
            "$filter": f"selectionId = {everyone[0]['selectionId']}",
            "$orderBy": "contactId",
        },
    )
    companies = {row["contactId"]: row for row in rows}
    with_address = [row for row in companies.values() if row["streetAddress/line1"]]
    zips: dict[tuple[object, object], set[object]] = {}

    assert len(companies) >= 150
    assert len(with_address) > 0.8 * len(companies)
    assert len(with_address) < len(companies), "a few companies have no street address"
    assert any(row["streetAddress/line2"] for row in with_address)
    for row in with_address:
        assert row["streetAddress/city"] == row["postAddress/city"], row
        assert re.fullmatch(POSTCODES[str(row["country"])], str(row["streetAddress/zip"])), row
        assert row["streetAddress/line3"] == row["streetAddress/state"] == ""
        zips.setdefault((row["country"], row["postAddress/city"]), set()).add(
            row["streetAddress/zip"]
        )
    for row in companies.values():
        if not row["streetAddress/line1"]:
            assert row["streetAddress/zip"] == row["streetAddress/city"] == "", row
    assert all(len(codes) == 1 for codes in zips.values()), "one postal code per city"


def test_same_seed_gives_the_same_data(tmp_path: Path) -> None:
    def snapshot(data_dir: Path) -> list[object]:
        with SandboxProcess(data_dir=data_dir, persons=300) as process:
            response = requests.get(f"{process.base_url}/_sandbox/associates", timeout=10)
            api = TenantApi.signed_in(base_url=process.base_url, email=ADMIN_EMAIL)
            persons = api.rows(
                "Person",
                **{
                    "$select": "personId,fullName,email/emailAddress,title,"
                    "personContact/streetAddress/line1,personContact/streetAddress/zip",
                    "$top": "300",
                },
            )
            selections = api.rows("Selection", **{"$select": "name,memberCount"})
            return [response.json(), persons, selections]

    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")


def test_restart_reuses_the_seeded_file_and_key(tmp_path: Path) -> None:
    with SandboxProcess(data_dir=tmp_path, persons=300) as process:
        first_key = requests.get(f"{process.base_url}/login/.well-known/jwks", timeout=10).json()
        api = TenantApi.signed_in(base_url=process.base_url, email=ADMIN_EMAIL)
        process.control().edit_person(tenant=api.tenant, person_id=10, title="Kept across restarts")
    with SandboxProcess(data_dir=tmp_path, persons=300) as process:
        second_key = requests.get(f"{process.base_url}/login/.well-known/jwks", timeout=10).json()
        again = TenantApi(base_url=process.base_url, tenant=api.tenant, tokens=api.tokens)
        title = again.get("Person/10").json()["Title"]

    assert first_key == second_key
    assert title == "Kept across restarts"
