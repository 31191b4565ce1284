"""Deterministic seed data: tenants, associates, companies, persons, selections, favourites,
appointments.

Everything comes from one seed number, so the same ``--persons`` and seed give the same
database. Names come from Faker in several locales (Latin, Cyrillic, Greek and Japanese
scripts). Faker is only asked for small pools of names; persons are combined from the
pools with a seeded ``random.Random``, which keeps seeding 6,000 persons well under a
second.

Appointment dates are relative to the day the data was seeded; ``rebase_appointments``
moves them along when a seeded file is reused on a later day, so "inside the sync window"
stays true.
"""

from __future__ import annotations

import random
import sqlite3
import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from faker import Faker

from sandbox.clock import format_so_datetime, utc_now

PERSON_TABLE = 6
CONTACT_TABLE = 5
SALE_TABLE = 13
TARGET_TABLE_NAMES = {CONTACT_TABLE: "contact", PERSON_TABLE: "person", SALE_TABLE: "sale"}

# Raw appointment types and statuses as the appointment table stores them.
RAW_TYPE_DIARY = 1
RAW_TYPE_BOOKING = 6
RAW_STATUS_NOT_STARTED = 1
RAW_STATUS_INVITATION = 5
RAW_STATUS_DECLINED = 9


@dataclass(frozen=True)
class AssociateSeed:
    login: str
    first_name: str
    last_name: str
    email: str
    is_administrator: bool = False
    is_active: bool = True
    user_type: str = "InternalAssociate"


@dataclass(frozen=True)
class SelectionSeed:
    name: str
    selection_type: str
    target_table: int
    description: str = ""
    owner: int = 1
    static_persons: int = 0
    static_companies: int = 0
    company_only_rows: int = 0
    include_retired: int = 0
    everyone_but_every_nth: int = 0
    sales: int = 0
    criteria: str = ""
    union_of: tuple[str, str] | None = None


@dataclass(frozen=True)
class TenantSeed:
    ctx: str
    company_name: str
    serial: str
    home_locale: str
    locale_weights: dict[str, int]
    associates: tuple[AssociateSeed, ...]
    selections: tuple[SelectionSeed, ...]
    person_share: float
    minimum_persons: int
    minimum_companies: int
    small_companies: int = 40
    extra: dict[str, Any] = field(default_factory=dict)


SHARED_CONSULTANT = "lars.lund@konsulent.example"

TENANTS: tuple[TenantSeed, ...] = (
    TenantSeed(
        ctx="Cust10001",
        company_name="Nordlys Demo AS",
        serial="1000100017",
        home_locale="no_NO",
        locale_weights={
            "no_NO": 40,
            "sv_SE": 12,
            "de_DE": 12,
            "en_GB": 12,
            "ja_JP": 8,
            "ru_RU": 8,
            "el_GR": 8,
        },
        associates=(
            AssociateSeed("IH", "Ingrid", "Haugen", "ingrid.haugen@nordlys-demo.example", True),
            AssociateSeed("OB", "Ola", "Berg", "ola.berg@nordlys-demo.example"),
            AssociateSeed("KL", "Kari", "Lie", "kari.lie@nordlys-demo.example"),
            AssociateSeed("MN", "Maja", "Nilsen", "maja.nilsen@nordlys-demo.example"),
            AssociateSeed("LL", "Lars", "Lund", SHARED_CONSULTANT),
            AssociateSeed("TB", "Tor", "Bakke", "tor.bakke@nordlys-demo.example", is_active=False),
        ),
        selections=(
            SelectionSeed("Nøkkelkunder Oslo", "Static", PERSON_TABLE, static_persons=25),
            SelectionSeed(
                "Partnere",
                "Static",
                CONTACT_TABLE,
                static_companies=8,
                company_only_rows=2,
            ),
            SelectionSeed("Messe 2025 - leads", "Static", PERSON_TABLE, static_persons=60),
            SelectionSeed("Styret", "Static", PERSON_TABLE, static_persons=6, include_retired=2),
            SelectionSeed(
                "Nyhetsbrev - alle kontakter",
                "Static",
                CONTACT_TABLE,
                everyone_but_every_nth=12,
                description="Every contact that receives the newsletter (large).",
            ),
            SelectionSeed(
                "Aktive kunder (dynamisk)",
                "Dynamic",
                CONTACT_TABLE,
                criteria="retired set false and lastName begins 'Ha'",
            ),
            SelectionSeed(
                "Nøkkelkunder + Partnere",
                "Combined",
                CONTACT_TABLE,
                union_of=("Nøkkelkunder Oslo", "Partnere"),
            ),
            SelectionSeed("Salg Q3 - pipeline", "Static", SALE_TABLE, sales=12),
            SelectionSeed("Åpne salg (dynamisk)", "Dynamic", SALE_TABLE, criteria="sale"),
            SelectionSeed("Customers", "Static", PERSON_TABLE, static_persons=30),
            SelectionSeed("VIP", "Static", PERSON_TABLE, static_persons=12),
            SelectionSeed(
                "VIP", "Dynamic", PERSON_TABLE, criteria="retired set false and title is 'CEO'"
            ),
            SelectionSeed("Tom liste", "Static", PERSON_TABLE),
            SelectionSeed("Prosjektgruppe", "Static", PERSON_TABLE, owner=2, static_persons=15),
        ),
        person_share=1.0,
        minimum_persons=200,
        minimum_companies=200,
    ),
    TenantSeed(
        ctx="Cust20002",
        company_name="Fjällvind Handel AB",
        serial="2000200029",
        home_locale="sv_SE",
        locale_weights={"sv_SE": 60, "no_NO": 15, "en_GB": 15, "de_DE": 10},
        associates=(
            AssociateSeed("AS", "Astrid", "Svensson", "astrid.svensson@fjallvind.example", True),
            AssociateSeed("JL", "Johan", "Lindqvist", "johan.lindqvist@fjallvind.example"),
            AssociateSeed("LL", "Lars", "Lund", SHARED_CONSULTANT),
        ),
        selections=(
            SelectionSeed("Customers", "Static", PERSON_TABLE, static_persons=20),
            SelectionSeed("VIP", "Static", PERSON_TABLE, static_persons=10),
            SelectionSeed("Kampanj 2025", "Static", CONTACT_TABLE, static_companies=6),
            SelectionSeed(
                "Stockholm dynamisk",
                "Dynamic",
                CONTACT_TABLE,
                criteria="retired set false and lastName begins 'S'",
            ),
            SelectionSeed(
                "Alla kontakter", "Static", PERSON_TABLE, everyone_but_every_nth=1_000_000
            ),
            SelectionSeed("Affärer Q4", "Static", SALE_TABLE, sales=5),
        ),
        person_share=0.1,
        minimum_persons=300,
        minimum_companies=40,
        small_companies=12,
    ),
)

DEPARTMENTS = {
    "no_NO": ["Salg", "Økonomi", "IT", "Innkjøp", "Ledelse", "Kundeservice", ""],
    "sv_SE": ["Försäljning", "Ekonomi", "IT", "Inköp", "Ledning", "Kundtjänst", ""],
    "de_DE": ["Vertrieb", "Finanzen", "IT", "Einkauf", "Geschäftsführung", "Kundendienst", ""],
}
ENGLISH_DEPARTMENTS = ["Sales", "Finance", "IT", "Purchasing", "Management", "Support", ""]
SALUTATIONS = {
    "no_NO": ("Herr", "Fru"),
    "sv_SE": ("Herr", "Fru"),
    "de_DE": ("Herr", "Frau"),
}
POSITIONS = ((1, "CEO"), (2, "CFO"), (3, "Sales"), (4, "Buyer"), (5, "Engineer"), (6, "Consultant"))
COUNTRIES = {
    "no_NO": ("NO", "Norway", "+47"),
    "sv_SE": ("SE", "Sweden", "+46"),
    "de_DE": ("DE", "Germany", "+49"),
    "en_GB": ("GB", "United Kingdom", "+44"),
    "ja_JP": ("JP", "Japan", "+81"),
    "ru_RU": ("RU", "Russia", "+7"),
    "el_GR": ("GR", "Greece", "+30"),
}
# Postal codes as each country writes them: ``#`` a digit, ``?`` a capital letter.
POSTCODE_FORMATS = {
    "no_NO": "####",
    "sv_SE": "### ##",
    "de_DE": "#####",
    "en_GB": "??# #??",
    "ja_JP": "###-####",
    "ru_RU": "######",
    "el_GR": "### ##",
}
# The second street line some companies have: their floor or suite.
FLOOR_LINES = {
    "no_NO": "{n}. etasje",
    "sv_SE": "{n} tr",
    "de_DE": "{n}. OG",
    "en_GB": "Suite {n}",
    "ja_JP": "{n}階",
    "ru_RU": "офис {n}",
    "el_GR": "{n}ος όροφος",
}
# Companies registered without a street address (the post address's city only).
NO_STREET_ADDRESS_SHARE = 0.05
APPOINTMENT_TITLES = (
    "Kundemøte",
    "Oppfølging",
    "Lunsj",
    "Demo av løsning",
    "Kontraktsgjennomgang",
    "Quarterly review",
    "Workshop",
)
TRANSLITERATION = str.maketrans(
    {
        **dict(zip("абвгдезийклмнопрстуфхцы", "abvgdezijklmnoprstufhcy", strict=True)),
        "ё": "e",
        "ж": "zh",
        "ч": "ch",
        "ш": "sh",
        "щ": "sch",
        "ъ": "",
        "ь": "",
        "э": "e",
        "ю": "yu",
        "я": "ya",
        **dict(
            zip(
                "αβγδεζηθικλμνξοπρστυφχψω",
                [
                    "a",
                    "v",
                    "g",
                    "d",
                    "e",
                    "z",
                    "i",
                    "th",
                    "i",
                    "k",
                    "l",
                    "m",
                    "n",
                    "x",
                    "o",
                    "p",
                    "r",
                    "s",
                    "t",
                    "y",
                    "f",
                    "ch",
                    "ps",
                    "o",
                ],
                strict=True,
            )
        ),
        "ς": "s",
        "ø": "o",
        "æ": "ae",
        "å": "a",
        "ß": "ss",
    }
)


@dataclass(frozen=True)
class StreetAddress:
    """A company's street address as SuperOffice stores it (StructuredAddress), in the
    company's city. County and state stay empty: Nordic addresses have none."""

    line1: str = ""
    line2: str = ""
    line3: str = ""
    zip: str = ""
    city: str = ""
    county: str = ""
    state: str = ""

    def columns(self) -> tuple[str, ...]:
        return (self.line1, self.line2, self.line3, self.zip, self.city, self.county, self.state)


def street_line(*, rng: random.Random, locale: str, street: str) -> str:
    number = rng.randint(1, 120)
    if locale == "ja_JP":
        return f"{street}{rng.randint(1, 9)}丁目{rng.randint(1, 30)}-{rng.randint(1, 20)}"
    if locale == "en_GB":
        return f"{number} {street}"
    if locale == "ru_RU":
        return f"{street}, д. {number}"
    if locale == "no_NO" and rng.random() < 0.15:
        return f"{street} {number}{rng.choice('ABC')}"
    return f"{street} {number}"


def postcode(*, rng: random.Random, locale: str) -> str:
    return "".join(
        rng.choice(string.digits)
        if ch == "#"
        else rng.choice(string.ascii_uppercase)
        if ch == "?"
        else ch
        for ch in POSTCODE_FORMATS[locale]
    )


@dataclass
class NamePools:
    male_first: list[str]
    female_first: list[str]
    male_last: list[str]
    female_last: list[str]
    companies: list[str]
    jobs: list[str]
    cities: list[str]
    romanized: dict[str, str]
    # Drawn after every other pool, so adding them left the names above as they were.
    streets: list[str] = field(default_factory=list)


def build_name_pools(*, locale: str, seed: int) -> NamePools:
    fake = Faker(locale)
    fake.seed_instance(seed)
    romanized: dict[str, str] = {}
    if hasattr(fake, "first_name_male_pair"):
        # Japanese names come as (kanji, kana, romaji); e-mail addresses use the romaji.
        def paired(pairs: list[tuple[str, str, str]]) -> list[str]:
            romanized.update({kanji: roman for kanji, _kana, roman in pairs})
            return [kanji for kanji, _kana, _roman in pairs]

        male_first = paired([fake.first_name_male_pair() for _ in range(50)])
        female_first = paired([fake.first_name_female_pair() for _ in range(50)])
        male_last = female_last = paired([fake.last_name_pair() for _ in range(60)])
    else:
        gendered_last = hasattr(fake, "last_name_male")
        male_first = [fake.first_name_male() for _ in range(50)]
        female_first = [fake.first_name_female() for _ in range(50)]
        male_last = [
            fake.last_name_male() if gendered_last else fake.last_name() for _ in range(60)
        ]
        female_last = [fake.last_name_female() for _ in range(60)] if gendered_last else male_last
    return NamePools(
        male_first=male_first,
        female_first=female_first,
        male_last=male_last,
        female_last=female_last,
        companies=list(dict.fromkeys(fake.company() for _ in range(120))),
        jobs=[fake.job() for _ in range(40)],
        cities=[fake.city() for _ in range(25)],
        romanized=romanized,
        streets=street_names(fake=fake, locale=locale),
    )


# English street names as Faker makes them ("Carter mountains") read oddly; a surname and
# a common street word read like a British address.
ENGLISH_STREET_WORDS = ("Road", "Street", "Lane", "Avenue", "Way", "Close", "Gardens")


def street_names(*, fake: Faker, locale: str) -> list[str]:
    """Street names of the country; Japanese addresses name a town (district) instead."""
    if locale == "ja_JP":
        return [fake.town() for _ in range(30)]
    if locale == "en_GB":
        return [
            f"{fake.last_name()} {ENGLISH_STREET_WORDS[n % len(ENGLISH_STREET_WORDS)]}"
            for n in range(30)
        ]
    return [fake.street_name() for _ in range(30)]


def ascii_slug(*, text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    folded = bare.translate(TRANSLITERATION)
    kept = "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch in " .-"))
    return ".".join(part for part in kept.replace("-", " ").replace(".", " ").split() if part)


def phone_number(*, rng: random.Random, prefix: str) -> str:
    digits = f"{rng.randrange(10_000_000, 99_999_999)}"
    return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:6]} {digits[6:]}"


def person_count_for(*, tenant: TenantSeed, persons: int) -> int:
    return max(tenant.minimum_persons, int(persons * tenant.person_share))


def seed_database(*, connection: sqlite3.Connection, persons: int, seed: int) -> None:
    """Fill an empty CRM database. ``persons`` is the number of persons in the first tenant."""
    anchor = utc_now().replace(hour=0, minute=0, second=0)
    pools: dict[str, NamePools] = {}
    for offset, locale in enumerate(COUNTRIES):
        pools[locale] = build_name_pools(locale=locale, seed=seed + offset)
    connection.execute("BEGIN")
    for index, tenant in enumerate(TENANTS):
        rng = random.Random(f"{seed}:{tenant.ctx}")  # noqa: S311 - repeatable seed data
        # Addresses draw from their own generator, so the persons stay as they were seeded
        # before companies had addresses.
        address_rng = random.Random(f"{seed}:{tenant.ctx}:addresses")  # noqa: S311
        TenantSeeder(
            connection=connection,
            tenant=tenant,
            rng=rng,
            address_rng=address_rng,
            pools=pools,
            persons=person_count_for(tenant=tenant, persons=persons),
            anchor=anchor,
            tenant_index=index,
        ).run()
    connection.executemany(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        [
            ("anchor_date", anchor.date().isoformat()),
            ("persons", str(persons)),
            ("seed", str(seed)),
        ],
    )
    connection.execute("COMMIT")


class TenantSeeder:
    """Builds one tenant's rows; ids start at 1 in every tenant, as in separate databases."""

    def __init__(
        self,
        *,
        connection: sqlite3.Connection,
        tenant: TenantSeed,
        rng: random.Random,
        address_rng: random.Random,
        pools: dict[str, NamePools],
        persons: int,
        anchor: datetime,
        tenant_index: int,
    ) -> None:
        self.connection = connection
        self.tenant = tenant
        self.rng = rng
        self.address_rng = address_rng
        self.city_zips: dict[tuple[str, str], str] = {}
        self.pools = pools
        self.persons = persons
        self.anchor = anchor
        self.tenant_index = tenant_index
        self.locales = list(tenant.locale_weights)
        self.weights = list(tenant.locale_weights.values())
        self.company_rows: list[tuple[Any, ...]] = []
        self.person_rows: list[tuple[Any, ...]] = []
        self.company_persons: dict[int, list[int]] = {}
        self.retired: set[int] = set()
        self.small_company_ids: list[int] = []
        self.customer_person_ids: list[int] = []
        self.person_contact: dict[int, int] = {}

    def stamp(self, *, days_ago: int) -> str:
        return format_so_datetime(moment=self.anchor - timedelta(days=days_ago, hours=-9))

    def run(self) -> None:
        tenant = self.tenant
        self.connection.execute(
            "INSERT INTO tenant VALUES (?, ?, ?, 1, '10.5.2025.1')",
            (tenant.ctx, tenant.company_name, tenant.serial),
        )
        self.add_owner_company()
        self.add_associates()
        self.add_customers()
        self.connection.executemany(
            "INSERT INTO contact (tenant, contact_id, name, department, orgnr, city, phone,"
            " email, url, country_code, country_name, associate_id, category, created, updated,"
            " street_line1, street_line2, street_line3, street_zip, street_city, street_county,"
            " street_state) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            self.company_rows,
        )
        self.connection.executemany(
            "INSERT INTO person VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            self.person_rows,
        )
        self.add_selections()
        self.add_favourites()
        self.add_appointments()

    def add_owner_company(self) -> None:
        home = self.tenant.home_locale
        code, country, prefix = COUNTRIES[home]
        domain = self.tenant.associates[0].email.split("@")[1]
        city = self.pools[home].cities[0]
        self.company_rows.append(
            (
                self.tenant.ctx,
                1,
                self.tenant.company_name,
                "",
                f"{9_000_000_00 + self.tenant_index:09d}",
                city,
                phone_number(rng=self.rng, prefix=prefix),
                f"post@{domain}",
                f"https://www.{domain}",
                code,
                country,
                1,
                "Owner",
                self.stamp(days_ago=900),
                self.stamp(days_ago=30),
                *self.street_address(locale=home, city=city, always=True).columns(),
            )
        )

    def add_associates(self) -> None:
        home = self.tenant.home_locale
        prefix = COUNTRIES[home][2]
        for number, associate in enumerate(self.tenant.associates, start=1):
            self.connection.execute(
                "INSERT INTO associate VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    self.tenant.ctx,
                    number,
                    number,
                    1,
                    associate.login,
                    associate.first_name,
                    associate.last_name,
                    associate.email,
                    associate.email,
                    int(associate.is_administrator),
                    associate.user_type,
                    int(associate.is_active),
                    1,
                    "Administrator" if associate.is_administrator else "User",
                ),
            )
            self.person_rows.append(
                (
                    self.tenant.ctx,
                    number,
                    1,
                    associate.first_name,
                    "",
                    associate.last_name,
                    "",
                    "Administrator" if associate.is_administrator else "Consultant",
                    6,
                    "Consultant",
                    associate.email,
                    phone_number(rng=self.rng, prefix=prefix),
                    phone_number(rng=self.rng, prefix=prefix),
                    "",
                    None,
                    0,
                    1,
                    f"A{number}",
                    number,
                    self.stamp(days_ago=800),
                    self.stamp(days_ago=20),
                    1,
                )
            )
            self.person_contact[number] = 1

    def street_address(self, *, locale: str, city: str, always: bool = False) -> StreetAddress:
        """A street address in the company's city; companies in one city share its postal
        code. A few companies have none (``always`` gives the owner company one)."""
        rng = self.address_rng
        if not always and rng.random() < NO_STREET_ADDRESS_SHARE:
            return StreetAddress()
        if (locale, city) not in self.city_zips:
            self.city_zips[(locale, city)] = postcode(rng=rng, locale=locale)
        line2 = ""
        if rng.random() < 0.2:
            line2 = FLOOR_LINES[locale].format(n=rng.randint(1, 8))
        return StreetAddress(
            line1=street_line(
                rng=rng, locale=locale, street=rng.choice(self.pools[locale].streets)
            ),
            line2=line2,
            zip=self.city_zips[(locale, city)],
            city=city,
        )

    def company_sizes(self, *, companies: int) -> list[int]:
        """Small companies first (3-8 persons, for favourites), the rest share what is left."""
        small = [self.rng.randint(3, 8) for _ in range(self.tenant.small_companies)]
        remaining = max(self.persons - sum(small), 0)
        large_count = companies - len(small)
        sizes = [0] * large_count
        for _ in range(remaining):
            sizes[self.rng.randrange(large_count)] += 1
        return small + sizes

    def add_customers(self) -> None:
        companies = max(self.tenant.minimum_companies, self.persons // 25)
        sizes = self.company_sizes(companies=companies)
        person_id = len(self.tenant.associates)
        used_names: set[str] = set()
        for offset, size in enumerate(sizes):
            contact_id = offset + 2
            locale = self.rng.choices(self.locales, self.weights)[0]
            pool = self.pools[locale]
            code, country, prefix = COUNTRIES[locale]
            name = self.rng.choice(pool.companies)
            while name in used_names:
                name = f"{self.rng.choice(pool.companies)} {self.rng.choice(pool.cities)}"
                if name in used_names:
                    name = f"{name} {contact_id}"
            used_names.add(name)
            slug = ascii_slug(text=name).replace(".", "-")[:30].strip("-") or f"firma{contact_id}"
            domain = f"{slug}.example"
            departments = DEPARTMENTS.get(locale, ENGLISH_DEPARTMENTS)
            row = (
                self.tenant.ctx,
                contact_id,
                name,
                self.rng.choice(departments),
                f"{self.rng.randrange(100_000_000, 999_999_999)}",
                self.rng.choice(pool.cities),
                phone_number(rng=self.rng, prefix=prefix),
                f"post@{domain}",
                f"https://www.{domain}",
                code,
                country,
                self.rng.randint(1, len(self.tenant.associates)),
                self.rng.choice(("Customer", "Prospect", "Partner", "Supplier")),
                self.stamp(days_ago=self.rng.randint(200, 2000)),
                self.stamp(days_ago=self.rng.randint(1, 199)),
            )
            address = self.street_address(locale=locale, city=row[5])
            self.company_rows.append(row + address.columns())
            members: list[int] = []
            for position_in_company in range(size):
                person_id += 1
                members.append(person_id)
                retired = self.rng.random() < 0.06 or (
                    offset < self.tenant.small_companies and position_in_company == size - 1
                )
                self.person_rows.append(
                    self.person_row(
                        person_id=person_id,
                        contact_id=contact_id,
                        locale=locale,
                        domain=domain,
                        retired=retired,
                    )
                )
                self.person_contact[person_id] = contact_id
                self.customer_person_ids.append(person_id)
                if retired:
                    self.retired.add(person_id)
            self.company_persons[contact_id] = members
            if offset < self.tenant.small_companies:
                self.small_company_ids.append(contact_id)

    def person_row(
        self, *, person_id: int, contact_id: int, locale: str, domain: str, retired: bool
    ) -> tuple[Any, ...]:
        rng = self.rng
        pool = self.pools[locale]
        female = rng.random() < 0.5
        first_pool = pool.female_first if female else pool.male_first
        last_pool = pool.female_last if female else pool.male_last
        first = rng.choice(first_pool)
        last = rng.choice(last_pool)
        local_part = ascii_slug(
            text=f"{pool.romanized.get(first, first)} {pool.romanized.get(last, last)}"
        )
        if rng.random() < 0.02:
            first = ""  # a person known by last name only
        middle = rng.choice(pool.male_last) if locale == "en_GB" and rng.random() < 0.1 else ""
        email = "" if rng.random() < 0.08 else f"{local_part or 'kontakt'}.{person_id}@{domain}"
        salutations = SALUTATIONS.get(locale, ("Mr", "Mrs" if rng.random() < 0.5 else "Ms"))
        mrmrs = "" if rng.random() < 0.1 else salutations[1 if female else 0]
        prefix = COUNTRIES[locale][2]
        birth = None
        if rng.random() < 0.7:
            birth = date(rng.randint(1950, 2002), rng.randint(1, 12), rng.randint(1, 28))
        position_id, position = POSITIONS[rng.randrange(len(POSITIONS))]
        return (
            self.tenant.ctx,
            person_id,
            contact_id,
            first,
            middle,
            last,
            mrmrs,
            "" if rng.random() < 0.15 else rng.choice(pool.jobs),
            position_id,
            position,
            email,
            phone_number(rng=rng, prefix=prefix),
            "" if rng.random() < 0.1 else phone_number(rng=rng, prefix=prefix),
            phone_number(rng=rng, prefix=prefix) if rng.random() < 0.4 else "",
            f"{birth.isoformat()}T00:00:00" if birth else None,
            int(retired),
            0,
            f"{10000 + person_id}",
            rng.randint(1, len(self.tenant.associates)),
            self.stamp(days_ago=rng.randint(100, 1500)),
            self.stamp(days_ago=rng.randint(1, 99)),
            rng.randint(1, len(self.tenant.associates)),
        )

    def active_person_sample(self, *, count: int) -> list[int]:
        active = [p for p in self.customer_person_ids if p not in self.retired]
        return sorted(self.rng.sample(active, min(count, len(active))))

    def add_selections(self) -> None:
        ids_by_name: dict[str, int] = {}
        members: list[tuple[Any, ...]] = []
        member_id = 0
        for selection_id, spec in enumerate(self.tenant.selections, start=1):
            ids_by_name.setdefault(spec.name, selection_id)
            rows: list[tuple[int, int, int, str]] = []
            persons = self.active_person_sample(count=spec.static_persons)
            if spec.include_retired:
                persons += sorted(self.rng.sample(sorted(self.retired), spec.include_retired))
            rows += [(self.person_contact[p], p, 0, "") for p in persons]
            companies = self.rng.sample(self.small_company_ids, spec.static_companies)
            for contact_id in sorted(companies):
                rows += [(contact_id, p, 0, "") for p in self.company_persons[contact_id]]
            spare = [c for c in self.small_company_ids if c not in companies]
            rows += [(c, 0, 0, "") for c in sorted(self.rng.sample(spare, spec.company_only_rows))]
            if spec.everyone_but_every_nth:
                nth = spec.everyone_but_every_nth
                rows += [
                    (self.person_contact[p], p, 0, "")
                    for index, p in enumerate(self.customer_person_ids)
                    if index % nth != nth - 1
                ]
            for number in range(spec.sales):
                sale_id = 500 + selection_id * 20 + number
                contact_id = self.rng.choice(self.small_company_ids)
                rows.append((contact_id, 0, sale_id, f"Salg #{sale_id}"))
            for contact_id, person_id, sale_id, label in rows:
                member_id += 1
                members.append(
                    (
                        self.tenant.ctx,
                        member_id,
                        selection_id,
                        contact_id,
                        person_id,
                        sale_id,
                        label,
                    )
                )
            left = right = 0
            union_type = "Unknown"
            if spec.union_of:
                left, right = ids_by_name[spec.union_of[0]], ids_by_name[spec.union_of[1]]
                union_type = "Union"
            self.connection.execute(
                "INSERT INTO selection VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    self.tenant.ctx,
                    selection_id,
                    spec.name,
                    spec.description,
                    spec.selection_type,
                    spec.target_table,
                    TARGET_TABLE_NAMES[spec.target_table],
                    spec.owner,
                    self.stamp(days_ago=300 - selection_id),
                    self.stamp(days_ago=40 - selection_id),
                    self.stamp(days_ago=30 - selection_id),
                    spec.owner,
                    spec.criteria,
                    left,
                    right,
                    union_type,
                ),
            )
        self.connection.executemany("INSERT INTO selection_member VALUES (?,?,?,?,?,?,?)", members)

    def add_favourites(self) -> None:
        rows: list[tuple[Any, ...]] = []
        for associate_id in range(1, len(self.tenant.associates) + 1):
            companies = self.rng.sample(self.small_company_ids, 4)
            persons = self.active_person_sample(count=7)
            persons.append(self.rng.choice(sorted(self.retired)))
            for rank, contact_id in enumerate(companies):
                stamp = self.stamp(days_ago=rank + 3)
                rows.append((self.tenant.ctx, associate_id, "contact", contact_id, stamp, rank))
            for rank, person_id in enumerate(persons):
                stamp = self.stamp(days_ago=rank + 3)
                rows.append((self.tenant.ctx, associate_id, "person", person_id, stamp, rank))
        self.connection.executemany("INSERT OR IGNORE INTO favourite VALUES (?,?,?,?,?,?)", rows)

    def add_appointments(self) -> None:
        writer = AppointmentWriter(connection=self.connection, tenant=self.tenant.ctx)
        associates = [
            number for number, spec in enumerate(self.tenant.associates, start=1) if spec.is_active
        ]
        for owner in associates:
            inside = [self.rng.randint(-6, 179) for _ in range(10)]
            outside = [self.rng.randint(-60, -9), -8, 181, self.rng.randint(182, 400)]
            for day in inside + outside:
                person_id = self.active_person_sample(count=1)[0]
                writer.add(
                    owner=owner,
                    person_id=person_id,
                    contact_id=self.person_contact[person_id],
                    start=self.anchor + timedelta(days=day, hours=self.rng.randint(8, 15)),
                    title=self.rng.choice(APPOINTMENT_TITLES),
                )
            writer.add(
                owner=owner,
                person_id=0,
                contact_id=0,
                start=self.anchor + timedelta(days=2, hours=9),
                title="Intern planlegging",
            )
            for day in (3, 40):
                others = [a for a in associates if a != owner][:1]
                guests = self.active_person_sample(count=2)
                person_id = self.active_person_sample(count=1)[0]
                writer.add(
                    owner=owner,
                    person_id=person_id,
                    contact_id=self.person_contact[person_id],
                    start=self.anchor + timedelta(days=day, hours=13),
                    title="Workshop med kunde",
                    invited_associates=others,
                    invited_persons=[(guest, self.person_contact[guest]) for guest in guests],
                )


class AppointmentWriter:
    """Writes appointments the way the appointment table holds bookings.

    A booking is a mother row (``mother_id`` = its own id) in the owner's diary plus one
    child row per invited associate (in their diary, status invitation) and one per
    invited external person (``associate_id`` 0, ``invited_person_id`` set). ``person_id``
    on every row is the person the meeting is *with*.
    """

    def __init__(self, *, connection: sqlite3.Connection, tenant: str) -> None:
        self.connection = connection
        self.tenant = tenant
        current = connection.execute(
            "SELECT COALESCE(MAX(appointment_id), 0) FROM appointment WHERE tenant = ?", (tenant,)
        ).fetchone()[0]
        self.next_id = int(current) + 1

    def add(
        self,
        *,
        owner: int,
        person_id: int,
        contact_id: int,
        start: datetime,
        title: str,
        description: str = "",
        location: str = "",
        invited_associates: Sequence[int] = (),
        invited_persons: Sequence[tuple[int, int]] = (),
    ) -> int:
        booking = bool(invited_associates or invited_persons)
        mother_id = self.next_id
        stamp = format_so_datetime(moment=utc_now())
        end = start + timedelta(hours=1)

        def row(
            *, associate_id: int, invited_person: int, status: int, booking_type: str, invite: str
        ) -> tuple[Any, ...]:
            appointment_id = self.next_id
            self.next_id += 1
            return (
                self.tenant,
                appointment_id,
                associate_id,
                mother_id if booking else 0,
                contact_id,
                person_id,
                invited_person,
                title,
                description,
                location or "Møterom 1",
                format_so_datetime(moment=start),
                format_so_datetime(moment=end),
                RAW_TYPE_BOOKING if booking else RAW_TYPE_DIARY,
                status,
                booking_type,
                invite,
                stamp,
                stamp,
            )

        rows = [
            row(
                associate_id=owner,
                invited_person=0,
                status=RAW_STATUS_NOT_STARTED,
                booking_type="Owner" if booking else "None",
                invite="None",
            )
        ]
        for associate_id in invited_associates:
            rows.append(
                row(
                    associate_id=associate_id,
                    invited_person=0,
                    status=RAW_STATUS_INVITATION,
                    booking_type="Participant",
                    invite="Invitation",
                )
            )
        for invited_person, _contact in invited_persons:
            rows.append(
                row(
                    associate_id=0,
                    invited_person=invited_person,
                    status=RAW_STATUS_INVITATION,
                    booking_type="Participant",
                    invite="Invitation",
                )
            )
        self.connection.executemany(
            "INSERT INTO appointment VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows
        )
        return mother_id


def rebase_appointments(*, connection: sqlite3.Connection, today: date) -> int:
    """Move every appointment by the days since seeding; return the shift in days."""
    row = connection.execute("SELECT value FROM meta WHERE key = 'anchor_date'").fetchone()
    if row is None:
        return 0
    shift = (today - date.fromisoformat(row[0])).days
    if shift == 0:
        return 0
    modifier = f"{shift:+d} days"
    connection.execute("BEGIN")
    connection.execute(
        "UPDATE appointment SET start_date = strftime('%Y-%m-%dT%H:%M:%S', start_date, ?), "
        "end_date = strftime('%Y-%m-%dT%H:%M:%S', end_date, ?)",
        (modifier, modifier),
    )
    connection.execute("UPDATE meta SET value = ? WHERE key = 'anchor_date'", (today.isoformat(),))
    connection.execute("COMMIT")
    return shift
