"""Reading HR files (JSON array, CSV, XLSX) into rows of text keyed by canonical field names."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime

from shared.errors import AppError, BadRequest, Invalid

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Chinese headers of the HR export and English field names, to the canonical field.
HEADERS = {
    "姓名": "name", "身份证号": "id_number", "身份证号码": "id_number", "性别": "gender", "出生日期": "birth_date",
    "手机号": "phone", "手机号码": "phone", "学历": "education", "政治面貌": "political_status",
    "所在社工站": "station", "岗位": "role", "是否专职": "full_time", "入职日期": "start_date",
    "证书等级": "level", "证书编号": "certificate_no", "取得日期": "obtained_on", "备注": "notes",
    "name": "name", "id_number": "id_number", "gender": "gender", "birth_date": "birth_date", "phone": "phone",
    "education": "education", "political_status": "political_status", "station": "station",
    "station_name": "station", "station_id": "station_id", "role": "role", "full_time": "full_time",
    "start_date": "start_date", "level": "level", "certificate_level": "level", "certificate_no": "certificate_no",
    "obtained_on": "obtained_on", "notes": "notes",
}
REQUIRED = ("name", "id_number")


class UnsupportedMediaType(AppError):
    status, title = 415, "Unsupported media type"


@dataclass
class RawRows:
    """Rows as text; `columns` maps a canonical field to the header the file used for it."""

    columns: dict[str, str]
    rows: list[tuple[int, dict[str, str | None] | None, str | None]] = field(default_factory=list)
    # each row: (row number, values or None when the row itself is malformed, the reason)


def _map_header(header: list[str]) -> tuple[dict[str, str], list[str | None]]:
    columns: dict[str, str] = {}
    positions: list[str | None] = []
    for raw in header:
        name = (raw or "").strip()
        canonical = HEADERS.get(name) or HEADERS.get(name.lower())
        if canonical in columns:
            raise Invalid(f"column {name} appears twice (as {columns[canonical]})", field="header")
        if canonical:
            columns[canonical] = name
        positions.append(canonical)
    missing = [f for f in REQUIRED if f not in columns]
    if missing:
        raise Invalid(f"missing columns: {', '.join(missing)} (e.g. 姓名, 身份证号)", field="header")
    return columns, positions


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def parse_csv(body: bytes) -> RawRows:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"the file is not UTF-8 text (byte 0x{body[exc.start]:02x} at offset {exc.start}); "
                      "export it as UTF-8 CSV (GBK and other encodings are not accepted)", field="encoding") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise Invalid("the file is empty", field="file")
        columns, positions = _map_header(header)
        width = len(header)
        result = RawRows(columns=columns)
        number = 0
        for cells in reader:
            if not cells or all(not c.strip() for c in cells):
                continue
            number += 1
            if len(cells) != width:
                result.rows.append((number, None, f"row has {len(cells)} cells, the header has {width}"))
                continue
            # cells are text already: strip, and an empty cell is a missing value
            result.rows.append((number, {f: c.strip() or None for f, c in zip(positions, cells, strict=True) if f},
                                None))
    except csv.Error as exc:
        raise Invalid(f"the CSV is malformed at line {reader.line_num}: {exc}", field="file") from None
    return result


def parse_xlsx(body: bytes) -> RawRows:
    import openpyxl  # noqa: PLC0415  (only needed for spreadsheets)

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except Exception:
        raise Invalid("the file is not a readable XLSX workbook", field="file") from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise Invalid("the workbook's first sheet is empty", field="file")
        while header and header[-1] is None:
            header = header[:-1]
        columns, positions = _map_header([_text(h) or "" for h in header])
        result = RawRows(columns=columns)
        number = 0
        for cells in rows:
            if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                continue
            number += 1
            extra = [c for c in cells[len(positions):] if c is not None]
            if extra:
                result.rows.append((number, None, f"row has values beyond the {len(positions)} header columns"))
                continue
            values = {f: _text(c) for f, c in zip(positions, cells, strict=False) if f}
            result.rows.append((number, values, None))
        return result
    finally:
        workbook.close()


def parse_json(body: bytes) -> RawRows:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply (the body guard stops most of it)
        raise BadRequest("the body is not valid JSON", field="body") from None
    if not isinstance(data, list):
        raise Invalid("the body must be a JSON array of objects", field="body")
    columns: dict[str, str] = {}
    result = RawRows(columns=columns)
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            result.rows.append((number, None, "row is not a JSON object"))
            continue
        values: dict[str, str | None] = {}
        unknown = []
        for key, value in item.items():
            canonical = HEADERS.get(key) or HEADERS.get(str(key).lower())
            if canonical is None:
                unknown.append(key)
                continue
            columns.setdefault(canonical, key)
            values[canonical] = _text(value)
        if unknown:
            result.rows.append((number, None, f"unknown fields: {', '.join(map(str, unknown))}"))
            continue
        result.rows.append((number, values, None))
    for f in REQUIRED:
        columns.setdefault(f, f)
    return result


def parse(content_type: str, body: bytes) -> RawRows:
    kind = content_type.split(";")[0].strip().lower()
    if not body.strip():
        raise Invalid("the body is empty", field="body")
    if kind == JSON_TYPE:
        return parse_json(body)
    if kind in (CSV_TYPE, "application/csv"):
        charset = content_type.lower().partition("charset=")[2].strip().strip('"')
        if charset and charset.replace("-", "") not in ("utf8",):
            raise Invalid(f"charset {charset} is not accepted; send UTF-8", field="encoding")
        return parse_csv(body)
    if kind == XLSX_TYPE:
        return parse_xlsx(body)
    raise UnsupportedMediaType(f"Content-Type {kind or '(none)'} is not accepted; send {JSON_TYPE}, {CSV_TYPE} "
                               f"or {XLSX_TYPE}", field="Content-Type")
