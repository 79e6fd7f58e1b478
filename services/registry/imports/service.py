"""HR bulk import: validate every row in Python, then write in batched Core statements in one transaction.

A bad row is reported and skipped; it never blocks good rows. Each row's person, employment and
certificate are written together or not at all (the whole import is one transaction, and a row with
any error writes nothing). Upsert key: the keyed hash of the ID number.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.registry.certificates.service import recorded_verified
from services.registry.common import LEVEL_LABELS_ZH, Level, today
from services.registry.crypto import PersonalDataCipher
from services.registry.employments.service import confirmation_for
from services.registry.events import certificate_issued
from services.registry.imports.parsing import RawRows
from services.registry.settings import RegistrySettings
from services.registry.stations.models import Station
from shared.auth import Principal, Role
from shared.errors import Conflict
from shared.events.outbox import enqueue_many
from shared.validators import birth_date_from_id_number, gender_from_id_number, normalize_id_number

IMPORT_LOCK_ID = 0x1A9027  # imports run one at a time per database: upserts of one person never interleave
LEVELS = {**{label: level.value for level, label in LEVEL_LABELS_ZH.items()}, **{lv.value: lv.value for lv in Level}}
GENDERS = {"男": "male", "女": "female", "male": "male", "female": "female", "m": "male", "f": "female"}
BOOLS = {"是": True, "否": False, "true": True, "false": False, "yes": True, "no": False, "1": True, "0": False,
         "y": True, "n": False, "专职": True, "兼职": False}
PHONE_RE = re.compile(r"^1\d{10}$")
DATE_RE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$|^(\d{4})(\d{2})(\d{2})$")
WORKER_FIELDS = ("name", "gender", "birth_date", "phone", "education", "political_status", "full_time", "notes")


@dataclass(slots=True)
class Row:
    number: int
    errors: list[dict] = field(default_factory=list)
    values: dict = field(default_factory=dict)
    lookup: bytes | None = None
    worker_id: uuid.UUID | None = None
    status: str = "unchanged"


def _date(value: str) -> date:
    if len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    m = DATE_RE.match(value)
    if not m:
        raise ValueError(f"{value} is not a date (YYYY-MM-DD)")
    y, mo, d = (int(g) for g in (m.groups()[:3] if m.group(1) else m.groups()[3:]))
    try:
        return date(y, mo, d)
    except ValueError:
        raise ValueError(f"{value} is not a real date") from None


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

    def row(self, number: int, raw: dict[str, str | None]) -> Row:
        row = Row(number)

        def error(fld: str, reason: str) -> None:
            row.errors.append({"column": self.columns.get(fld, fld), "field": fld, "reason": reason})

        def get_date(fld: str, *, not_future: bool = False) -> date | None:
            value = raw.get(fld)
            if value is None:
                return None
            try:
                parsed = _date(value)
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
        try:
            id_number = normalize_id_number(raw.get("id_number") or "", today=self.today)
        except ValueError as exc:
            error("id_number", str(exc) if raw.get("id_number") else "is required")
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
        if phone is not None:
            phone = phone.replace(" ", "").replace("-", "")
            if not PHONE_RE.match(phone):
                error("phone", "is not an 11-digit mobile number")
        v["phone"] = phone
        v["education"] = raw.get("education")
        v["political_status"] = raw.get("political_status")
        v["notes"] = raw.get("notes")
        full_time = True
        if raw.get("full_time") is not None:
            full_time = BOOLS.get(raw["full_time"].lower())
            if full_time is None:
                error("full_time", f"{raw['full_time']} is not 是/否")
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
        if id_number is not None and not row.errors:
            row.lookup = self.cipher.lookup_hash(id_number)
        return row


# One statement per batch: the rows travel as one array per column (asyncpg encodes them in binary).
_WORKER_COLUMNS = {"id": "uuid", "id_number_hash": "bytea", "id_number_enc": "bytea", "phone_enc": "bytea",
                   "name": "text", "gender": "text", "birth_date": "date", "education": "text",
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
  id_number_enc = excluded.id_number_enc, phone_enc = excluded.phone_enc, name = excluded.name,
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
SELECT w.id, w.id_number_hash, w.name, w.gender, w.birth_date, w.education, w.political_status, w.full_time,
       w.notes, w.phone_enc
FROM unnest(CAST(:hashes AS bytea[])) AS h(hash) JOIN workers w ON w.id_number_hash = h.hash""")
_EXISTING_EMPLOYMENTS = text("""
SELECT e.worker_id, e.station_id, e.start_date, e.end_date, e.full_time, e.role
FROM unnest(CAST(:ids AS uuid[])) AS i(id) JOIN employments e ON e.worker_id = i.id""")
_EXISTING_CERTIFICATES = text("""
SELECT c.worker_id, c.certificate_no, c.level, c.obtained_on
FROM unnest(CAST(:ids AS uuid[])) AS i(id) JOIN certificates c ON c.worker_id = i.id""")


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


async def lock_imports(session: AsyncSession) -> None:
    """Imports run one at a time (held until the transaction ends; taking it twice is harmless)."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": IMPORT_LOCK_ID})


async def run_import(*, session: AsyncSession, principal: Principal, settings: RegistrySettings,
                     cipher: PersonalDataCipher, raw: RawRows, batch_size: int = 5000) -> dict:
    """Certificates of a caller whose word is not the bureau's are imported as claims (no certificate-issued);
    a station manager's employments starting more than two months back as pending (see the certificate and
    employment services)."""
    principal.require(Role.BUREAU_ADMIN, Role.HR_SYSTEM, Role.STATION_MANAGER)
    verification = "verified" if recorded_verified(principal, settings) else "claimed"
    await lock_imports(session)
    stations = dict((await session.execute(select(Station.name, Station.id))).all())
    validator = _Validator(columns=raw.columns, stations=stations, station_ids=set(stations.values()),
                           principal=principal, cipher=cipher)
    rows: list[Row] = []
    for number, values, problem in raw.rows:
        if values is None:
            rows.append(Row(number, errors=[{"column": "*", "field": "*", "reason": problem}]))
        else:
            rows.append(validator.row(number, values))
    raw.rows.clear()  # the text of 100k rows is not needed any more
    good = [r for r in rows if not r.errors]

    # What exists already, fetched in batches by look-up hash.
    existing: dict[bytes, object] = {}
    for chunk in _chunks([r.lookup for r in good], batch_size):
        result = await session.execute(_EXISTING_WORKERS, {"hashes": chunk})
        existing.update({row.id_number_hash: row for row in result})
    employments: dict[uuid.UUID, list] = {}
    certificates: dict[tuple[uuid.UUID, str], object] = {}
    for chunk in _chunks([e.id for e in existing.values()], batch_size):
        for row in await session.execute(_EXISTING_EMPLOYMENTS, {"ids": chunk}):
            employments.setdefault(row.worker_id, []).append(row)
        for row in await session.execute(_EXISTING_CERTIFICATES, {"ids": chunk}):
            certificates[(row.worker_id, row.certificate_no)] = row

    worker_rows: list[dict] = []
    employment_rows: list[dict] = []
    certificate_rows: list[dict] = []
    for r in good:
        v = r.values
        current = existing.get(r.lookup)
        if current is None:
            r.worker_id, r.status = uuid.uuid4(), "created"
        else:
            r.worker_id = current.id
            if validator.restricted and not any(
                    emp.station_id in principal.station_ids for emp in employments.get(current.id, ())):
                r.errors.append({"column": raw.columns["id_number"], "field": "id_number",
                                 "reason": "belongs to a worker outside your stations"})
                continue
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
        if current is None:
            worker_changed = True
        else:
            old_phone = cipher.decrypt(current.phone_enc) if current.phone_enc else None
            worker_changed = any(
                v[f] is not None and v[f] != (old_phone if f == "phone" else getattr(current, f))
                for f in WORKER_FIELDS)
        if worker_changed:
            worker_rows.append({
                "id": r.worker_id, "id_number_hash": r.lookup, "id_number_enc": cipher.encrypt(v["id_number"]),
                "phone_enc": cipher.encrypt(v["phone"]) if v["phone"] else (current.phone_enc if current else None),
                **{f: v[f] if v[f] is not None else (getattr(current, f) if current else None)
                   for f in WORKER_FIELDS if f != "phone"}})
        if emp_row:
            employment_rows.append(emp_row)
        if cert_row:
            certificate_rows.append(cert_row)
        if current is not None and (worker_changed or emp_row or cert_row):
            r.status = "updated"

    for r in good:
        r.values = {}  # decided: free the parsed values before writing
    try:
        for chunk in _chunks(worker_rows, batch_size):
            await session.execute(_UPSERT_WORKERS, _columns(chunk, _WORKER_COLUMNS))
        for chunk in _chunks(employment_rows, batch_size):
            await session.execute(_UPSERT_EMPLOYMENTS, _columns(chunk, _EMPLOYMENT_COLUMNS))
        for chunk in _chunks(certificate_rows, batch_size):
            await session.execute(_INSERT_CERTIFICATES, _columns(chunk, _CERTIFICATE_COLUMNS))
            await enqueue_many(session, (certificate_issued(
                certificate_id=c["id"], worker_id=c["worker_id"], level=c["level"], certificate_no=c["certificate_no"],
                obtained_on=c["obtained_on"]) for c in chunk if c["verification"] == "verified"))
    except IntegrityError:
        raise Conflict("the registry changed while importing; retry the import", field="body") from None

    results = []
    totals = {"rows": len(rows), "created": 0, "updated": 0, "unchanged": 0, "error": 0}
    for r in rows:
        status = "error" if r.errors else r.status
        totals[status] += 1
        item = {"row": r.number, "status": status, "errors": r.errors}
        if status != "error":
            item["worker_id"] = str(r.worker_id)
        results.append(item)
    return {"totals": totals, "results": results}
