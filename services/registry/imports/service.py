"""HR bulk import: validate every row in Python, then write in batched Core statements in one transaction.

A bad row is reported and skipped; it never blocks good rows. Each row's person, employment and
certificate are written together or not at all (the whole import is one transaction, and a row with
any error writes nothing). Upsert key: the keyed hash of the 18-digit ID number (a legacy 15-digit
number is converted first, so both forms find the same person).

Values as people write them (the text is already NFKC-normalised and trimmed by `parsing`):

- dates: 2019-03-05, 2019/3/5, 2019.3.5, 2019-3-5, 2019年3月5日, 20190305, "2019-03-05 00:00:00", and Excel
  date serial numbers (1 to 99999, the 1900 date system; workbook date cells arrive as ISO dates);
- yes/no: 是/否, Y/N, yes/no, true/false, 1/0, √/×, ✓/✗ (also ✔/✘), 专职/兼职 — any case;
- phone numbers: spaces, dashes, dots and brackets are dropped, and a +86 / 0086 / 86 prefix;
- gender: 男/女, male/female, M/F.

One person, one record: a row whose ID number is new but whose name and birth date are those of a
known worker (or of an earlier row in the same file) is not created: it is reported as `needs_review`
and kept (encrypted) for the bureau, which merges it into that person or confirms a different person
(`resolve_review`). A worker merged that way is found again by either ID number.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import date

import asyncpg
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.bank_accounts import service as bank_accounts
from services.registry.bank_accounts.models import BankAccount
from services.registry.bank_accounts.schemas import normalize_account_number, normalize_name
from services.registry.certificates.service import recorded_verified
from services.registry.common import LEVEL_LABELS_ZH, Level, today
from services.registry.crypto import PersonalDataCipher
from services.registry.employments.service import confirmation_for
from services.registry.events import certificate_issued
from services.registry.imports.parsing import SCIENTIFIC_RE, RawRows
from services.registry.settings import RegistrySettings
from services.registry.stations.models import Station
from shared.auth import Principal, Role
from shared.contracts.events import TOPICS
from shared.errors import Conflict
from shared.events.outbox import NOTIFY_CHANNEL
from shared.events.outbox import _row as outbox_row  # noqa: PLC2701  (the outbox's own row builder)
from shared.validators import birth_date_from_id_number, gender_from_id_number, parse_id_number

log = logging.getLogger("registry.import")
IMPORT_LOCK_ID = 0x1A9027  # imports run one at a time per database: upserts of one person never interleave
LEVELS = {**{label: level.value for level, label in LEVEL_LABELS_ZH.items()}, **{lv.value: lv.value for lv in Level}}
GENDERS = {"男": "male", "女": "female", "男性": "male", "女性": "female", "male": "male", "female": "female",
           "m": "male", "f": "female"}
YES = ("是", "y", "yes", "true", "1", "√", "✓", "✔", "专职")
NO = ("否", "n", "no", "false", "0", "×", "✗", "✘", "兼职")
BOOLS = {**dict.fromkeys(YES, True), **dict.fromkeys(NO, False)}
PHONE_RE = re.compile(r"^1[0-9]{10}$")
_PHONE_NOISE = re.compile(r"[\s\-.()]")
DATE_RE = re.compile(r"^([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?$|^([0-9]{4})([0-9]{2})([0-9]{2})$")
_SERIAL_RE = re.compile(r"^[0-9]{1,5}(\.0+)?$")
_DATETIME_RE = re.compile(r"^(\S+)[ T][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$")
WORKER_FIELDS = ("name", "gender", "birth_date", "phone", "education", "political_status", "full_time", "notes")
_EXCEL_DAY0 = date(1899, 12, 30).toordinal()  # serial 1 is 1900-01-01 once Excel's 1900-02-29 is skipped


@dataclass(slots=True)
class Row:
    number: int
    line: int = 0
    errors: list[dict] = field(default_factory=list)
    values: dict = field(default_factory=dict)
    notes: list[dict] = field(default_factory=list)
    lookup: bytes | None = None
    worker_id: uuid.UUID | None = None
    status: str = "unchanged"
    review_id: uuid.UUID | None = None
    raw: dict | None = None


def parse_date(value: str) -> date:
    """A date as HR files write it (see the module docstring); ValueError says what is wrong."""
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    m = DATE_RE.match(value)
    if not m:
        if _SERIAL_RE.match(value):
            serial = int(float(value))
            if serial < 1:
                raise ValueError(f"{value} is not a date")
            # Excel counts a 1900-02-29 that never was (serial 60); before it, serials are one day ahead
            # (60 itself reads as 1900-02-28, as openpyxl reads it in a workbook)
            return date.fromordinal(_EXCEL_DAY0 + serial + (1 if serial < 60 else 0))
        t = _DATETIME_RE.match(value)
        if t and not _DATETIME_RE.match(t.group(1)):
            return parse_date(t.group(1))
        raise ValueError(f"{value} is not a date (YYYY-MM-DD)")
    y, mo, d = (int(g) for g in (m.groups()[:3] if m.group(1) else m.groups()[3:]))
    try:
        return date(y, mo, d)
    except ValueError:
        raise ValueError(f"{value} is not a real date") from None


def parse_phone(value: str) -> str | None:
    """The 11-digit mobile number, or None when the text is not one."""
    digits = _PHONE_NOISE.sub("", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if PHONE_RE.match(digits) else None


class _Validator:
    def __init__(self, *, columns: dict[str, str], stations: dict[str, uuid.UUID], station_ids: set[uuid.UUID],
                 principal: Principal, cipher: PersonalDataCipher):
        self.columns = columns
        self.stations = stations
        self.station_ids = station_ids
        self.principal = principal
        self.restricted = not principal.has_any(Role.BUREAU_ADMIN, Role.HR_SYSTEM)
        self.cipher = cipher
        self.today = today()
        self.seen: dict[str, int] = {}

    def row(self, number: int, raw: dict[str, str | None], *, line: int = 0,
            refused: dict[str, str] | None = None) -> Row:
        row = Row(number, line)

        def error(fld: str, reason: str) -> None:
            row.errors.append({"column": self.columns.get(fld, fld), "field": fld, "reason": reason})

        def get_date(fld: str, *, not_future: bool = False) -> date | None:
            value = raw.get(fld)
            if value is None:
                return None
            try:
                parsed = parse_date(value)
            except ValueError as exc:
                error(fld, str(exc))
                return None
            if not_future and parsed > self.today:
                error(fld, f"{parsed.isoformat()} is in the future")
                return None
            return parsed

        v = row.values
        name = raw.get("name")
        if not name:
            error("name", "is required")
        elif len(name) > 100:
            error("name", "is longer than 100 characters")
        v["name"] = name
        id_number = None
        id_text = raw.get("id_number")
        if refused and "id_number" in refused:
            error("id_number", refused["id_number"])
        elif id_text and SCIENTIFIC_RE.match(id_text):
            error("id_number", f"{id_text} is an ID number that Excel turned into a number, so its last digits "
                               "are lost; format the column as text (设置单元格格式 → 文本), type the number again "
                               "and re-import")
        else:
            try:
                id_number, converted = parse_id_number(id_text or "", today=self.today)
            except ValueError as exc:
                error("id_number", str(exc) if id_text else "is required")
            else:
                if converted:
                    row.notes.append({"column": self.columns.get("id_number", "id_number"), "field": "id_number",
                                      "note": "legacy 15-digit ID number converted to 18 digits (GB 11643: century "
                                              "19 inserted, check character computed)"})
        if id_number is not None:
            if id_number in self.seen:
                error("id_number", f"duplicate ID number: already in row {self.seen[id_number]}")
                id_number = None
            else:
                self.seen[id_number] = number
        v["id_number"] = id_number
        gender_raw = raw.get("gender")
        gender = GENDERS.get(gender_raw.lower()) if gender_raw else None
        if gender_raw and gender is None:
            error("gender", f"{gender_raw} is not 男/女 (male/female)")
        birth = get_date("birth_date", not_future=True)
        if id_number is not None:
            derived_gender, derived_birth = gender_from_id_number(id_number), birth_date_from_id_number(id_number)
            if gender is not None and gender != derived_gender:
                error("gender", "does not match the ID number")
            if birth is not None and birth != derived_birth:
                error("birth_date", f"{birth.isoformat()} does not match the ID number ({derived_birth.isoformat()})")
            v["gender"], v["birth_date"] = derived_gender, derived_birth
        phone = raw.get("phone")
        if refused:
            for fld, reason in refused.items():
                if fld != "id_number":
                    error(fld, reason)
        if phone is not None:
            phone = parse_phone(raw["phone"])
            if phone is None:
                error("phone", f"{raw['phone']} is not an 11-digit mobile number")
        v["phone"] = phone
        v["education"] = raw.get("education")
        v["political_status"] = raw.get("political_status")
        v["notes"] = raw.get("notes")
        full_time = True
        if raw.get("full_time") is not None:
            full_time = BOOLS.get(raw["full_time"].lower())
            if full_time is None:
                error("full_time", f"{raw['full_time']} is not 是/否 (or Y/N, 1/0, √/×)")
        v["full_time"] = full_time

        station_id = None
        if raw.get("station") is not None:
            station_id = self.stations.get(raw["station"])
            if station_id is None:
                error("station", f"unknown station {raw['station']}")
        elif raw.get("station_id") is not None:
            try:
                station_id = uuid.UUID(raw["station_id"])
            except ValueError:
                error("station_id", "is not a UUID")
            else:
                if station_id not in self.station_ids:
                    error("station_id", "unknown station")
                    station_id = None
        start = get_date("start_date")
        station_col = "station" if "station" in self.columns else "station_id"
        if station_id is not None and self.restricted and station_id not in self.principal.station_ids:
            error(station_col, "is not one of your stations")
        if self.restricted and station_id is None and raw.get("station") is None and raw.get("station_id") is None:
            error(station_col, "is required: a station manager imports workers of their own stations")
        if (raw.get("station") or raw.get("station_id")) and start is None and "start_date" not in {
                e["field"] for e in row.errors}:
            error("start_date", "is required with a station")
        if start is not None and not (raw.get("station") or raw.get("station_id")):
            error(station_col, "is required with a start date")
        role = raw.get("role")
        v["employment"] = (station_id, start, full_time, role or "社工") if station_id and start else None

        level_raw = raw.get("level")
        level = LEVELS.get(level_raw) or LEVELS.get(level_raw.lower()) if level_raw else None
        if level_raw and level is None:
            expected = ", ".join(LEVEL_LABELS_ZH.values())
            error("level", f"unknown certificate level {level_raw}; expected one of {expected}")
        obtained = get_date("obtained_on", not_future=True)
        cert_no = raw.get("certificate_no")
        if level_raw:
            if not cert_no:
                error("certificate_no", "is required with a certificate level")
            if obtained is None and raw.get("obtained_on") is None:
                error("obtained_on", "is required with a certificate level")
        elif cert_no or raw.get("obtained_on"):
            error("level", "is required with a certificate number or date")
        if obtained is not None and v.get("birth_date") and obtained < v["birth_date"]:
            error("obtained_on", "is before the birth date")
        v["certificate"] = (level, cert_no, obtained) if level and cert_no and obtained else None
        v["bank"] = self.bank(raw, error)
        if id_number is not None and not row.errors:
            row.lookup = self.cipher.lookup_hash(id_number)
            row.raw = raw
        return row


    @staticmethod
    def bank(raw: dict[str, str | None], error) -> tuple[str, str] | None:
        """开户银行 and 银行账号 (optional, both or neither): the account the worker is paid into."""
        bank_name, number = raw.get("bank_name"), raw.get("account_number")
        if not bank_name and not number:
            return None
        if not number:
            error("account_number", "is required with a bank")
            return None
        if not bank_name:
            error("bank_name", "is required with an account number")
            return None
        if SCIENTIFIC_RE.match(number):
            error("account_number", f"{number} is an account number that Excel turned into a number, so its last "
                                    "digits are lost; format the column as text and type it again")
            return None
        if len(bank_name) > 100:
            error("bank_name", "is longer than 100 characters")
            return None
        try:
            return bank_name, normalize_account_number(number)
        except ValueError as exc:
            error("account_number", str(exc))
            return None


_EXISTING_ACCOUNTS = text("""
SELECT a.worker_id, a.bank_name, a.account_enc FROM unnest(CAST(:ids AS uuid[])) AS i(id)
JOIN bank_accounts a ON a.worker_id = i.id AND a.status IN ('verified', 'pending')""")
_SUPERSEDE_ACCOUNTS = text("""
UPDATE bank_accounts SET status = 'superseded'
WHERE worker_id = ANY(CAST(:ids AS uuid[])) AND status = ANY(CAST(:statuses AS text[]))""")
# One statement per batch: the rows travel as one array per column (asyncpg encodes them in binary).
_WORKER_COLUMNS = {"id": "uuid", "id_number_hash": "bytea", "id_number_enc": "bytea", "id_number_masked": "text",
                   "phone_enc": "bytea", "phone_masked": "text", "name": "text", "gender": "text",
                   "birth_date": "date", "education": "text",
                   "political_status": "text", "full_time": "boolean", "notes": "text"}
_EMPLOYMENT_COLUMNS = {"id": "uuid", "worker_id": "uuid", "station_id": "uuid", "start_date": "date",
                       "full_time": "boolean", "role": "text", "confirmation": "text", "recorded_by": "text"}
_CERTIFICATE_COLUMNS = {"id": "uuid", "worker_id": "uuid", "level": "text", "certificate_no": "text",
                        "obtained_on": "date", "verification": "text", "recorded_by": "text"}


def _unnest(columns: dict[str, str]) -> str:
    names = ", ".join(columns)
    arrays = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in columns.items())
    return f"({names}) SELECT * FROM unnest({arrays})"


def _columns(rows: list[dict], columns: dict[str, str]) -> dict[str, list]:
    return {c: [r[c] for r in rows] for c in columns}


_UPSERT_WORKERS = text(f"""
INSERT INTO workers {_unnest(_WORKER_COLUMNS)}
ON CONFLICT (id_number_hash) DO UPDATE SET
  id_number_enc = excluded.id_number_enc, id_number_masked = excluded.id_number_masked,
  phone_enc = excluded.phone_enc, phone_masked = excluded.phone_masked, name = excluded.name,
  gender = excluded.gender, birth_date = excluded.birth_date, education = excluded.education,
  political_status = excluded.political_status, full_time = excluded.full_time, notes = excluded.notes,
  updated_at = now()""")
_UPSERT_EMPLOYMENTS = text(f"""
INSERT INTO employments {_unnest(_EMPLOYMENT_COLUMNS)}
ON CONFLICT (worker_id, station_id, start_date) WHERE station_id IS NOT NULL
DO UPDATE SET full_time = excluded.full_time, role = excluded.role""")
_INSERT_CERTIFICATES = text(f"""
INSERT INTO certificates {_unnest(_CERTIFICATE_COLUMNS)}
ON CONFLICT (worker_id, certificate_no) DO NOTHING""")


# Look-ups join an array parameter (one parameter, and the planner walks the unique index per element).
_EXISTING_WORKERS = text("""
SELECT w.id, w.id_number_hash, w.id_number_enc, w.id_number_masked, w.name, w.gender, w.birth_date, w.education,
       w.political_status, w.full_time, w.notes, w.phone_enc, w.phone_masked
FROM unnest(CAST(:hashes AS bytea[])) AS h(hash) JOIN workers w ON w.id_number_hash = h.hash""")
_WORKERS_BY_ID = text("""
SELECT w.id, w.id_number_hash, w.id_number_enc, w.id_number_masked, w.name, w.gender, w.birth_date, w.education,
       w.political_status, w.full_time, w.notes, w.phone_enc, w.phone_masked
FROM unnest(CAST(:ids AS uuid[])) AS i(id) JOIN workers w ON w.id = i.id""")
_EXISTING_EMPLOYMENTS = text("""
SELECT e.worker_id, e.station_id, e.start_date, e.end_date, e.full_time, e.role
FROM unnest(CAST(:ids AS uuid[])) AS i(id) JOIN employments e ON e.worker_id = i.id""")
_EXISTING_CERTIFICATES = text("""
SELECT c.worker_id, c.certificate_no, c.level, c.obtained_on
FROM unnest(CAST(:ids AS uuid[])) AS i(id) JOIN certificates c ON c.worker_id = i.id""")
# Known people with the same name and birth date (one person, one record).
_SAME_PERSON = text("""
SELECT w.id, w.name, w.birth_date, w.id_number_hash
FROM unnest(CAST(:names AS text[]), CAST(:births AS date[])) AS k(name, birth)
JOIN workers w ON w.name = k.name AND w.birth_date = k.birth""")
_ANY_REVIEWS = text("SELECT EXISTS (SELECT 1 FROM import_reviews)")
_PENDING_REVIEWS = text("""
SELECT r.id, r.id_number_hash FROM unnest(CAST(:hashes AS bytea[])) AS h(hash)
JOIN import_reviews r ON r.id_number_hash = h.hash AND r.status = 'pending'""")
_ALIASES = text("""
SELECT r.alias_hash, r.result_worker_id FROM unnest(CAST(:hashes AS bytea[])) AS h(hash)
JOIN import_reviews r ON r.alias_hash = h.hash""")
_INSERT_REVIEW = text("""
INSERT INTO import_reviews (id, id_number_hash, worker_id, name, birth_date, row_number, row_enc, columns, reason,
                            created_by)
VALUES (:id, :id_number_hash, :worker_id, :name, :birth_date, :row_number, :row_enc, CAST(:columns AS jsonb),
        :reason, :created_by)""")


async def _copy(session: AsyncSession, table: str, rows: list[dict], columns: dict[str, str]) -> None:
    """COPY rows into a table on the session's connection (in its transaction): PostgreSQL's fastest path."""
    if not rows:
        return
    connection = await (await session.connection()).get_raw_connection()
    await connection.driver_connection.copy_records_to_table(
        table, records=[tuple(r[c] for c in columns) for r in rows], columns=list(columns))


async def _enqueue_copied(session: AsyncSession, events: list) -> None:
    """`enqueue_many` for tens of thousands of events: the same outbox rows (built by the outbox's own
    `_row`), COPYed in order (so their ids keep the order per key) instead of one INSERT per event, then the
    relay is woken as `enqueue_many` wakes it."""
    if not events:
        return
    rows = [outbox_row(e, TOPICS) for e in events]
    connection = await (await session.connection()).get_raw_connection()
    await connection.driver_connection.copy_records_to_table("outbox", columns=_OUTBOX_COLUMNS, records=[
        (r["event_id"], r["event_type"], r["topic"], r["key"], json.dumps(r["payload"], ensure_ascii=False))
        for r in rows])
    await session.execute(text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')"))


_OUTBOX_COLUMNS = ["event_id", "event_type", "topic", "key", "payload"]


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


async def lock_imports(session: AsyncSession) -> None:
    """Imports run one at a time (held until the transaction ends; taking it twice is harmless)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": IMPORT_LOCK_ID})


@dataclass
class Decision:
    """A bureau decision on a reviewed row: create it as a new person, or merge it into `merge_into`."""

    confirm: bool = False
    merge_into: uuid.UUID | None = None


async def run_import(*, session: AsyncSession, principal: Principal, settings: RegistrySettings,
                     cipher: PersonalDataCipher, raw: RawRows, batch_size: int = 5000,
                     decision: Decision | None = None) -> dict:
    """Certificates of a caller whose word is not the bureau's are imported as claims (no certificate-issued);
    a station manager's employments starting more than two months back as pending (see the certificate and
    employment services)."""
    principal.require(Role.BUREAU_ADMIN, Role.HR_SYSTEM, Role.STATION_MANAGER)
    verification = "verified" if recorded_verified(principal, settings) else "claimed"
    phases = {"start": time.perf_counter()}
    await lock_imports(session)
    stations = dict((await session.execute(select(Station.name, Station.id))).all())
    validator = _Validator(columns=raw.columns, stations=stations, station_ids=set(stations.values()),
                           principal=principal, cipher=cipher)
    rows: list[Row] = []
    refused = raw.cell_errors
    for number, line, values, problem in raw.rows:
        if values is None:
            rows.append(Row(number, line, errors=[{"column": "*", "field": "*", "reason": problem}]))
        else:
            rows.append(validator.row(number, values, line=line, refused=refused.get(number)))
    raw.rows.clear()  # the text of 100k rows is not needed any more
    good = [r for r in rows if not r.errors]
    phases["validate"] = time.perf_counter()

    # What exists already, fetched in batches by look-up hash.
    existing: dict[bytes, object] = {}
    for chunk in _chunks([r.lookup for r in good], batch_size):
        result = await session.execute(_EXISTING_WORKERS, {"hashes": chunk})
        existing.update({row.id_number_hash: row for row in result})
    # ID numbers a merge made another name of a known worker, and rows already waiting for review
    pending_reviews: dict[bytes, uuid.UUID] = {}
    if (await session.execute(_ANY_REVIEWS)).scalar_one():
        unknown = [r.lookup for r in good if r.lookup not in existing]
        aliases: dict[bytes, uuid.UUID] = {}
        for chunk in _chunks(unknown, batch_size):
            aliases.update((await session.execute(_ALIASES, {"hashes": chunk})).all())  # (hash, worker id) rows
            pending_reviews.update((h, i) for i, h in await session.execute(_PENDING_REVIEWS, {"hashes": chunk}))
        if aliases:
            by_id = {w.id: w for w in await session.execute(_WORKERS_BY_ID, {"ids": list(set(aliases.values()))})}
            existing.update({h: by_id[w] for h, w in aliases.items() if w in by_id})
    if decision is not None and decision.merge_into is not None:
        target = (await session.execute(_WORKERS_BY_ID, {"ids": [decision.merge_into]})).first()
        existing.update({r.lookup: target for r in good})
    # Known people with the same name and birth date as a new row (a different person, or the same one
    # under another ID number: the bureau decides)
    namesakes: dict[tuple[str, date], list] = {}
    if decision is None:
        new = [r for r in good if r.lookup not in existing and r.lookup not in pending_reviews]
        for chunk in _chunks(new, batch_size):
            for w in await session.execute(_SAME_PERSON, {"names": [r.values["name"] for r in chunk],
                                                         "births": [r.values["birth_date"] for r in chunk]}):
                namesakes.setdefault((w.name, w.birth_date), []).append(w)
    employments: dict[uuid.UUID, list] = {}
    certificates: dict[tuple[uuid.UUID, str], object] = {}
    for chunk in _chunks(list({e.id for e in existing.values()}), batch_size):
        for row in await session.execute(_EXISTING_EMPLOYMENTS, {"ids": chunk}):
            employments.setdefault(row.worker_id, []).append(row)
        for row in await session.execute(_EXISTING_CERTIFICATES, {"ids": chunk}):
            certificates[(row.worker_id, row.certificate_no)] = row

    accounts: dict[uuid.UUID, list] = {}
    if any(r.values["bank"] for r in good):
        for chunk in _chunks(list({e.id for e in existing.values()}), batch_size):
            for row in await session.execute(_EXISTING_ACCOUNTS, {"ids": chunk}):
                accounts.setdefault(row.worker_id, []).append(row)
    phases["look-ups"] = time.perf_counter()
    worker_rows: list[dict] = []
    employment_rows: list[dict] = []
    certificate_rows: list[dict] = []
    review_rows: list[dict] = []
    # people new to the registry, with their employment and certificate: nothing can conflict with them
    # (their look-up hashes were not found under the import lock), so they are copied in
    created_workers: list[dict] = []
    created_employments: list[dict] = []
    created_certificates: list[dict] = []
    account_rows: list[dict] = []  # bank accounts (verified when the bureau imports, else pending its confirmation)
    in_file: dict[tuple[str, date], tuple[uuid.UUID, bytes]] = {}  # name and birth date -> person of this file
    in_file_rows: dict[tuple[str, date], int] = {}
    handled: dict[uuid.UUID, int] = {}  # worker -> the row of this file that wrote them
    for r in good:
        v = r.values
        current = existing.get(r.lookup)
        key = (v["name"], v["birth_date"])
        if current is None:
            review_id = pending_reviews.get(r.lookup)
            same = namesakes.get(key) if namesakes else None
            namesake = next((w for w in same if w.id_number_hash != r.lookup), None) if same else None
            earlier = in_file.get(key)
            if review_id is not None or namesake is not None or (earlier is not None and earlier[1] != r.lookup):
                r.status = "needs_review"
                if review_id is None:
                    r.review_id = uuid.uuid4()
                    if namesake is not None:
                        candidate, reason = namesake.id, "same name and birth date as a known worker"
                    else:
                        candidate = earlier[0]
                        reason = f"same name and birth date as row {in_file_rows[key]} of this file"
                    review_rows.append({
                        "id": r.review_id, "id_number_hash": r.lookup, "worker_id": candidate, "name": v["name"],
                        "birth_date": v["birth_date"], "row_number": r.number, "reason": reason,
                        "row_enc": cipher.encrypt(json.dumps(r.raw, ensure_ascii=False)),
                        "columns": json.dumps(raw.columns, ensure_ascii=False), "created_by": principal.subject})
                else:
                    r.review_id = review_id
                continue
            r.worker_id, r.status = uuid.uuid4(), "created"
        else:
            r.worker_id = current.id
            if current.id in handled:
                r.errors.append({"column": raw.columns["id_number"], "field": "id_number",
                                 "reason": f"the same person as row {handled[current.id]} (another of their ID "
                                           "numbers)"})
                continue
            if validator.restricted and not any(
                    emp.station_id in principal.station_ids for emp in employments.get(current.id, ())):
                r.errors.append({"column": raw.columns["id_number"], "field": "id_number",
                                 "reason": "belongs to a worker outside your stations"})
                continue
            if current.id_number_hash != r.lookup:
                # found by another of the person's ID numbers: the number on record (and the birth date and
                # gender it fixes) stays
                v["gender"] = v["birth_date"] = None
        emp = v["employment"]
        emp_row = None
        if emp is not None:
            station_id, start, full_time, role = emp
            held = employments.get(r.worker_id, ())
            known = next((e for e in held if e.station_id == station_id and e.start_date == start), None)
            if known is None and full_time and any(e.full_time and (e.end_date or date.max) >= start for e in held):
                r.errors.append({"column": raw.columns.get("start_date", "start_date"), "field": "start_date",
                                 "reason": "overlaps another full-time employment of this worker"})
                continue
            if known is None or known.full_time != full_time or known.role != role:
                emp_row = {"id": uuid.uuid4(), "worker_id": r.worker_id, "station_id": station_id,
                           "start_date": start, "full_time": full_time, "role": role,
                           "confirmation": confirmation_for(principal, start), "recorded_by": principal.subject}
        cert = v["certificate"]
        cert_row = None
        if cert is not None:
            level, cert_no, obtained = cert
            known_cert = certificates.get((r.worker_id, cert_no))
            if known_cert is not None:
                if known_cert.level != level or known_cert.obtained_on != obtained:
                    r.errors.append({"column": raw.columns.get("certificate_no", "certificate_no"),
                                     "field": "certificate_no",
                                     "reason": f"already recorded as {known_cert.level} obtained on "
                                               f"{known_cert.obtained_on.isoformat()}"})
                    continue
            else:
                cert_row = {"id": uuid.uuid4(), "worker_id": r.worker_id, "level": level, "certificate_no": cert_no,
                            "obtained_on": obtained, "status": "valid", "continuing_education_hours": 0.0,
                            "verification": verification, "recorded_by": principal.subject}
        account_row = None
        if v["bank"] is not None:
            bank_name, number = v["bank"]
            if not any(a.bank_name == bank_name and cipher.decrypt(a.account_enc) == number
                       for a in accounts.get(r.worker_id, ())):
                account_row = {"id": uuid.uuid4(), "worker_id": r.worker_id, "bank_name": bank_name,
                               **bank_accounts.number_columns(cipher, number), "holder_name": normalize_name(v["name"]),
                               "status": "verified" if principal.is_admin else "pending",
                               "recorded_by": principal.subject, "recorded_roles": ",".join(sorted(principal.roles)),
                               "decided_by": principal.subject if principal.is_admin else None}
        handled[r.worker_id] = r.number
        if key not in in_file:
            in_file[key] = (r.worker_id, r.lookup)
            in_file_rows[key] = r.number
        if current is None:
            worker_changed = True
        else:
            old_phone = cipher.decrypt(current.phone_enc) if current.phone_enc else None
            worker_changed = any(
                v[f] is not None and v[f] != (old_phone if f == "phone" else getattr(current, f))
                for f in WORKER_FIELDS)
        if worker_changed:
            stored = cipher.id_number_columns(v["id_number"]) if current is None else {
                "id_number_hash": current.id_number_hash, "id_number_enc": current.id_number_enc,
                "id_number_masked": current.id_number_masked}
            phone = cipher.phone_columns(v["phone"]) if v["phone"] or current is None else {
                "phone_enc": current.phone_enc, "phone_masked": current.phone_masked}
            (worker_rows if current is not None else created_workers).append({
                "id": r.worker_id, **stored, **phone,
                **{f: v[f] if v[f] is not None else (getattr(current, f) if current else None)
                   for f in WORKER_FIELDS if f != "phone"}})
        if emp_row:
            (employment_rows if current is not None else created_employments).append(emp_row)
        if cert_row:
            (certificate_rows if current is not None else created_certificates).append(cert_row)
        if account_row:
            account_rows.append(account_row)
        if current is not None and (worker_changed or emp_row or cert_row or account_row):
            r.status = "updated"

    for r in good:
        r.values = {}  # decided: free the parsed values before writing
        r.raw = None
    phases["decide"] = time.perf_counter()
    try:
        await _copy(session, "workers", created_workers, _WORKER_COLUMNS)
        await _copy(session, "employments", created_employments, _EMPLOYMENT_COLUMNS)
        await _copy(session, "certificates", created_certificates, _CERTIFICATE_COLUMNS)
        for chunk in _chunks(worker_rows, batch_size):
            await session.execute(_UPSERT_WORKERS, _columns(chunk, _WORKER_COLUMNS))
        for chunk in _chunks(employment_rows, batch_size):
            await session.execute(_UPSERT_EMPLOYMENTS, _columns(chunk, _EMPLOYMENT_COLUMNS))
        for chunk in _chunks(certificate_rows, batch_size):
            await session.execute(_INSERT_CERTIFICATES, _columns(chunk, _CERTIFICATE_COLUMNS))
        if account_rows:
            superseded = ("verified", "pending") if principal.is_admin else ("pending",)
            for chunk in _chunks(account_rows, batch_size):
                await session.execute(_SUPERSEDE_ACCOUNTS, {"ids": [a["worker_id"] for a in chunk],
                                                            "statuses": list(superseded)})
                await session.execute(insert(BankAccount).values(
                    [{**a, "decided_at": func.now() if a["decided_by"] else None} for a in chunk]))
        phases["write"] = time.perf_counter()
        for chunk in _chunks(created_certificates + certificate_rows, batch_size):
            await _enqueue_copied(session, [certificate_issued(
                certificate_id=c["id"], worker_id=c["worker_id"], level=c["level"], certificate_no=c["certificate_no"],
                obtained_on=c["obtained_on"]) for c in chunk if c["verification"] == "verified"])
        if review_rows:
            await session.execute(_INSERT_REVIEW, review_rows)
    except (IntegrityError, asyncpg.IntegrityConstraintViolationError):
        raise Conflict("the registry changed while importing; retry the import", field="body") from None
    phases["events"] = time.perf_counter()
    marks = list(phases.items())
    log.info("import of %d rows: %s", len(rows), ", ".join(
        f"{name} {end - marks[i][1]:.2f}s" for i, (name, end) in enumerate(marks[1:])))

    results = []
    totals = {"rows": len(rows), "created": 0, "updated": 0, "unchanged": 0, "needs_review": 0, "error": 0}
    for r in rows:
        status = "error" if r.errors else r.status
        totals[status] += 1
        item = {"row": r.number, "line": r.line, "status": status, "errors": r.errors}
        if r.notes:
            item["notes"] = r.notes
        if status == "needs_review":
            item["review_id"] = str(r.review_id)
        elif status != "error":
            item["worker_id"] = str(r.worker_id)
        results.append(item)
    return {"totals": totals, **raw.describe(), "results": results}
