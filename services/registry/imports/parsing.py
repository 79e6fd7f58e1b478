"""Reading HR files (JSON array, CSV, XLSX) into rows of clean text keyed by canonical field names.

What this module decides, so the rules downstream only see text:

- **Encoding** of CSV (comma-separated, or tab-separated as Excel's "Unicode text"): a byte-order
  mark decides (UTF-8, UTF-16 LE/BE); else a `charset` parameter of the Content-Type (utf-8, or gbk /
  gb2312 / gb18030, all read as GB18030, their superset); else strict UTF-8; else GB18030
  (what Chinese Excel writes for "CSV (逗号分隔)"). The table says which one was used.
- **Where the table is**: the header is the first row among the first `HEADER_SEARCH_ROWS` (20) rows whose
  cells name at least 姓名 and 身份证号 (or name and id_number); title rows, blank rows and notes above it
  are skipped and reported. A workbook uses the sheet named by the caller, else the first sheet with such a
  header. Merged cells take the value of their top-left cell (ranges read from the sheet's XML: openpyxl's
  streaming reader does not expose them, and the streaming reader keeps 100,000-row workbooks small).
- **Text**: every cell is NFKC-normalised (full-width digits and letters to ASCII, the ideographic space to
  a space) and trimmed; an empty cell is a missing value.
- **Cells that cannot be trusted**: an ID number the workbook holds as a number (Excel keeps 15
  significant digits, so the last digits may be gone) is refused for its row, never converted; so is an
  ID number in scientific notation in CSV text (1.50624E+17) or a JSON number. Workbook date cells and
  date serial numbers in date columns become ISO dates (the workbook's own 1900 or 1904 date system).
- **Limits**: the caller gives a row limit; workbooks whose parts would inflate beyond `max_unzipped` are
  refused before reading; JSON is an array of flat objects (deeper nesting is a 400).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

from shared.errors import AppError, BadRequest, Invalid, PayloadTooLarge

JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_SEARCH_ROWS = 20

# Chinese headers of the HR export and English field names, to the canonical field.
HEADERS = {
    "姓名": "name", "身份证号": "id_number", "身份证号码": "id_number", "身份证": "id_number",
    "公民身份号码": "id_number", "性别": "gender", "出生日期": "birth_date",
    "手机号": "phone", "手机号码": "phone", "联系电话": "phone", "学历": "education", "政治面貌": "political_status",
    "所在社工站": "station", "岗位": "role", "是否专职": "full_time", "入职日期": "start_date",
    "证书等级": "level", "证书编号": "certificate_no", "取得日期": "obtained_on", "备注": "notes",
    "开户银行": "bank_name", "开户行": "bank_name", "银行账号": "account_number", "银行卡号": "account_number",
    "bank_name": "bank_name", "account_number": "account_number",
    "name": "name", "id_number": "id_number", "gender": "gender", "birth_date": "birth_date", "phone": "phone",
    "education": "education", "political_status": "political_status", "station": "station",
    "station_name": "station", "station_id": "station_id", "role": "role", "full_time": "full_time",
    "start_date": "start_date", "level": "level", "certificate_level": "level", "certificate_no": "certificate_no",
    "obtained_on": "obtained_on", "notes": "notes",
}
REQUIRED = ("name", "id_number")
DATE_FIELDS = frozenset({"birth_date", "start_date", "obtained_on"})
# Identifiers whose digits Excel loses when it holds them as numbers (15 significant digits).
NUMBER_SENSITIVE = frozenset({"phone", "certificate_no", "account_number"})
NUMERIC_ID_REASON = ("the workbook holds this ID number as a number, so Excel may have lost its last digits; "
                     "format the column as text (设置单元格格式 → 文本), type the number again and re-import")
SCIENTIFIC_RE = re.compile(r"^[0-9]+(\.[0-9]*)?[eE]\+?[0-9]+$")
_HEADER_NOISE = re.compile(r"\s+|[*＊]|[（(]必填[)）]")
_GB_CHARSETS = {"gbk", "gb2312", "gb18030", "cp936", "gb_2312-80"}
_UTF8_CHARSETS = {"utf-8", "utf8"}
_MERGE_RE = re.compile(rb"<(?:\w+:)?mergeCell\s[^>]*?ref=\"([A-Z]{1,3})([0-9]+):([A-Z]{1,3})([0-9]+)\"")


class UnsupportedMediaType(AppError):
    status, title = 415, "Unsupported media type"


Values = dict[str, str | None]


@dataclass
class RawRows:
    """The table of a file: data rows as clean text, and how it was read.

    `rows` holds (row number, line, values or None when the row itself is malformed, the reason); row numbers
    count data rows from 1 (the header is row 0), `line` is the row as the spreadsheet or text editor shows it.
    `cell_errors` holds cells refused while reading, by row number and field. `cells` keeps the row as sent
    (only when a report is asked for).
    """

    columns: dict[str, str]
    rows: list[tuple[int, int, Values | None, str | None]] = field(default_factory=list)
    cell_errors: dict[int, dict[str, str]] = field(default_factory=dict)
    encoding: str | None = None
    sheet: str | None = None
    header_line: int = 1
    header: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    cells: dict[int, list[str]] | None = None

    def describe(self) -> dict:
        """How the file was read (the import answer carries it)."""
        return {"encoding": self.encoding, "sheet": self.sheet, "header_row": self.header_line,
                "skipped_rows": self.skipped, "ignored_columns": self.ignored_columns}


_CLEANED: dict[str, str | None] = {}


def clean(value: str) -> str | None:
    """NFKC (full-width to half-width) and trimmed; empty is None.

    ASCII text skips the normalisation, and the other texts repeat (stations, levels, 是/否): they are
    normalised once per distinct value (the cache is emptied when it grows large).
    """
    if value.isascii():
        return value.strip() or None
    try:
        return _CLEANED[value]
    except KeyError:
        pass
    text = value
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    text = text.replace("\u200b", "").replace("\ufeff", "").strip() or None
    if len(_CLEANED) > 50_000:
        _CLEANED.clear()
    _CLEANED[value] = text
    return text


def _header_key(raw) -> str:
    text = clean(str(raw)) if raw is not None else None
    return _HEADER_NOISE.sub("", text) if text else ""


def _canonical(key: str) -> str | None:
    return HEADERS.get(key) or HEADERS.get(key.lower())


def _map_header(header: list[str]) -> tuple[dict[str, str], list[str | None], list[str]]:
    """Canonical field per column; raises Invalid for a column named twice."""
    columns: dict[str, str] = {}
    positions: list[str | None] = []
    ignored: list[str] = []
    for name in header:
        canonical = _canonical(name)
        if canonical in columns:
            raise Invalid(f"column {name} appears twice (as {columns[canonical]})", field="header")
        if canonical:
            columns[canonical] = name
        elif name:
            ignored.append(name)
        positions.append(canonical)
    return columns, positions, ignored


def _is_header(keys: list[str]) -> bool:
    found = {_canonical(k) for k in keys if k}
    return all(f in found for f in REQUIRED)


def _missing_header_error(candidates: list[list[str]]) -> Invalid:
    best = max(candidates, key=lambda keys: sum(1 for k in keys if k and _canonical(k)), default=[])
    found = {_canonical(k) for k in best if k}
    if found - {None}:
        missing = [f for f in REQUIRED if f not in found]
        return Invalid(f"missing columns: {', '.join(missing)} (e.g. 姓名, 身份证号)", field="header")
    return Invalid(f"no header row (with 姓名 and 身份证号, or name and id_number) in the first "
                   f"{HEADER_SEARCH_ROWS} rows", field="header")


def _summary(cells: Iterable) -> str:
    """The text of a skipped row (a merged title once, not once per cell it spans)."""
    parts = dict.fromkeys(str(c).strip() for c in cells if c is not None and str(c).strip())
    text = " ".join(parts)
    return text if len(text) <= 80 else text[:79] + "…"


class _Table:
    """Finds the header in a stream of rows and turns the rows below it into values (shared by CSV and XLSX)."""

    def __init__(self, result: RawRows, *, max_rows: int, keep_cells: bool):
        self.result = result
        self.max_rows = max_rows
        if keep_cells:
            result.cells = {}

    def locate(self, rows: Iterator[tuple[int, list]]) -> tuple[list[str | None], int] | None:
        """Consume rows up to the header; None when the first rows hold no header."""
        candidates = []
        skipped = []
        for line, cells in rows:
            keys = [_header_key(c) for c in cells]
            if _is_header(keys):
                while keys and not keys[-1]:
                    keys.pop()
                columns, positions, ignored = _map_header(keys)
                self.result.columns.update(columns)
                self.result.ignored_columns = ignored
                self.result.header = [str(c) if c is not None else "" for c in cells[:len(keys)]]
                self.result.header_line = line
                self.result.skipped = skipped
                return positions, line
            candidates.append(keys)
            if any(keys):
                skipped.append({"row": line, "text": _summary(cells)})
            if line >= HEADER_SEARCH_ROWS:
                break
        self.candidates = candidates
        return None

    def add(self, number: int, line: int, values: Values | None, problem: str | None, cells) -> None:
        if number > self.max_rows:
            raise PayloadTooLarge(f"the file has more than {self.max_rows:,} data rows; split it into smaller files",
                                  field="file")
        self.result.rows.append((number, line, values, problem))
        if self.result.cells is not None:
            self.result.cells[number] = ["" if c is None else str(c) for c in cells]


def decode_text(body: bytes, charset: str | None) -> tuple[str, str]:
    """The text of a CSV and the name of the encoding that read it (see the module docstring)."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if body.startswith(bom):
            try:
                return body[len(bom):].decode(encoding), f"{encoding} (BOM)"
            except UnicodeDecodeError as exc:
                raise Invalid(f"the file starts with a {encoding} byte-order mark but is not {encoding} text "
                              f"(offset {exc.start + len(bom)})", field="encoding") from None
    if charset:
        if charset in _UTF8_CHARSETS:
            encoding = "utf-8"
        elif charset in _GB_CHARSETS:
            encoding = "gb18030"
        else:
            raise Invalid(f"charset {charset} is not accepted; send utf-8, gbk, gb2312 or gb18030", field="encoding")
        try:
            return body.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise Invalid(f"the file is not {charset} text (byte 0x{body[exc.start]:02x} at offset {exc.start})",
                          field="encoding") from None
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return body.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise Invalid(f"the file is neither UTF-8 nor GBK/GB18030 text (byte 0x{body[exc.start]:02x} at offset "
                      f"{exc.start}); export it as CSV UTF-8 or CSV (逗号分隔)", field="encoding") from None


def parse_csv(body: bytes, *, charset: str | None = None, max_rows: int, keep_cells: bool = False) -> RawRows:
    text, encoding = decode_text(body, charset)
    if "\x00" in text:
        raise Invalid("the file contains NUL characters: it is not CSV text (a workbook sent as text/csv?)",
                      field="file")
    result = RawRows(columns={}, encoding=encoding)
    table = _Table(result, max_rows=max_rows, keep_cells=keep_cells)
    sample = text[:4096]
    # Excel's "Unicode text" export is UTF-16 with tabs between the cells
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=delimiter)
    del text
    try:
        located = table.locate((n, cells) for n, cells in enumerate(reader, start=1))
        if located is None:
            if not table.candidates:
                raise Invalid("the file is empty", field="file")
            raise _missing_header_error(table.candidates)
        positions, header_line = located
        width = len(positions)
        kept = [i for i, f in enumerate(positions) if f]
        fields = [positions[i] for i in kept]
        every = len(kept) == width
        number = 0
        for line, cells in enumerate(reader, start=header_line + 1):
            if not cells or all(not c.strip() for c in cells):
                continue
            number += 1
            if len(cells) > width and not any(c.strip() for c in cells[width:]):
                cells = cells[:width]  # Excel pads rows with empty cells up to its widest row
            if len(cells) != width:
                table.add(number, line, None, f"row has {len(cells)} cells, the header has {width}", cells)
                continue
            texts = map(clean, cells if every else [cells[i] for i in kept])
            table.add(number, line, dict(zip(fields, texts, strict=True)), None, cells)
    except csv.Error as exc:
        raise Invalid(f"the CSV is malformed at line {reader.line_num}: {exc}", field="file") from None
    return result


def _column_index(letters: bytes) -> int:
    index = 0
    for ch in letters:
        index = index * 26 + (ch - 64)
    return index


def _merged_ranges(sheet) -> list[tuple[int, int, int, int]]:
    """(min_row, min_col, max_row, max_col) of every merged range, read from the sheet's XML."""
    ranges = []
    tail = b""
    with sheet._get_source() as src:  # noqa: SLF001  (the streaming reader has no merged-cell API)
        while chunk := src.read(1 << 20):
            data = tail + chunk
            for m in _MERGE_RE.finditer(data):
                c1, r1, c2, r2 = m.groups()
                ranges.append((int(r1), _column_index(c1), int(r2), _column_index(c2)))
            tail = data[-200:]  # a tag cut by the chunk boundary; one found twice is counted once below
    return sorted(set(ranges))


def _filled_rows(sheet) -> Iterator[tuple[int, list]]:
    """The sheet's rows (1-based line, cells) with merged ranges filled from their top-left cell."""
    ranges = _merged_ranges(sheet)
    pending = iter(ranges)
    upcoming = next(pending, None)
    active: list[tuple[int, int, int, object]] = []  # (max_row, min_col, max_col, value)
    sheet.reset_dimensions()  # some writers record a wrong dimension: read every row there is
    for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        cells = list(values)
        while upcoming is not None and upcoming[0] <= line:
            r1, c1, r2, c2 = upcoming
            if r1 == line:
                value = cells[c1 - 1] if c1 - 1 < len(cells) else None
                active.append((r2, c1, c2, value))
            upcoming = next(pending, None)
        if active:
            active = [a for a in active if a[0] >= line]
            for _, c1, c2, value in active:
                if len(cells) < c2:
                    cells.extend([None] * (c2 - len(cells)))
                for i in range(c1 - 1, c2):
                    cells[i] = value
        yield line, cells


def _cell_text(value, fld: str | None, epoch) -> tuple[str | None, str | None]:
    """(text, refusal) of one workbook cell for a field."""
    if value is None:
        return None, None
    if isinstance(value, str):
        return clean(value), None
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, datetime):
        return value.date().isoformat(), None
    if isinstance(value, date):
        return value.isoformat(), None
    if isinstance(value, time):
        return value.isoformat(), None
    if isinstance(value, int | float):
        if fld == "id_number":
            return None, NUMERIC_ID_REASON
        if fld in DATE_FIELDS and 0 < value < 2958466:
            from openpyxl.utils.datetime import WINDOWS_EPOCH, from_excel  # noqa: PLC0415

            return from_excel(value, epoch or WINDOWS_EPOCH).date().isoformat(), None
        if fld in NUMBER_SENSITIVE and abs(value) >= 1e15:
            return None, ("the workbook holds this value as a number, so Excel may have lost its last digits; "
                          "format the column as text and type it again")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value), None
    return clean(str(value)), None


def check_zip(body: bytes, *, max_unzipped: int) -> None:
    """Refuse a workbook whose parts would inflate beyond the limit, before any of it is decompressed."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise Invalid("the file is not a readable XLSX workbook (is it complete?)", field="file") from None
    if total > max_unzipped:
        raise PayloadTooLarge(f"the workbook unpacks to {total / 2**20:,.0f} MiB, more than the "
                              f"{max_unzipped / 2**20:,.0f} MiB allowed; split it into smaller files", field="file")


def parse_xlsx(body: bytes, *, sheet: str | None = None, max_rows: int, max_unzipped: int,
               keep_cells: bool = False) -> RawRows:
    import openpyxl  # noqa: PLC0415  (only needed for spreadsheets)

    check_zip(body, max_unzipped=max_unzipped)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except Exception:
        raise Invalid("the file is not a readable XLSX workbook", field="file") from None
    try:
        if sheet is not None:
            if sheet not in workbook.sheetnames:
                raise Invalid(f"the workbook has no sheet named {sheet}; it has {', '.join(workbook.sheetnames)}",
                              field="sheet")
            candidates = [workbook[sheet]]
        else:
            candidates = list(workbook.worksheets)
        tried = []
        for ws in candidates:
            if not hasattr(ws, "iter_rows"):  # a chart sheet
                continue
            result = RawRows(columns={}, sheet=ws.title)
            table = _Table(result, max_rows=max_rows, keep_cells=keep_cells)
            rows = _filled_rows(ws)
            located = table.locate(rows)
            if located is None:
                tried.append(table.candidates)
                continue
            positions, _ = located
            width = len(positions)
            number = 0
            for line, cells in rows:
                if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
                    continue
                number += 1
                if any(c is not None and not (isinstance(c, str) and not c.strip()) for c in cells[width:]):
                    table.add(number, line, None, f"row has values beyond the {width} header columns", cells)
                    continue
                values: Values = {}
                for fld, value in zip(positions, cells, strict=False):
                    if fld:
                        text, refusal = _cell_text(value, fld, workbook.epoch)
                        values[fld] = text
                        if refusal:
                            result.cell_errors.setdefault(number, {})[fld] = refusal
                table.add(number, line, values, None, cells[:width])
            return result
        if sheet is None and all(not any(any(k) for k in keys) for keys in tried):
            raise Invalid("the workbook is empty", field="file")
        raise _missing_header_error([keys for t in tried for keys in t])
    except AppError:
        raise
    except Exception:  # a damaged part found while streaming (truncated XML, bad shared strings, ...)
        raise Invalid("the workbook is damaged and cannot be read; save it again in Excel", field="file") from None
    finally:
        workbook.close()


def parse_json(body: bytes, *, max_rows: int, keep_cells: bool = False) -> RawRows:
    """An array of flat objects (field -> text, number, boolean or null): anything nested deeper is a 400."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise BadRequest("the JSON is nested too deeply; send an array of flat objects", field="body") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON", field="body") from None
    if not isinstance(data, list):
        raise Invalid("the body must be a JSON array of objects", field="body")
    if len(data) > max_rows:
        raise PayloadTooLarge(f"the import has more than {max_rows:,} rows; split it", field="body")
    columns: dict[str, str] = {}
    result = RawRows(columns=columns, encoding="utf-8")
    if keep_cells:
        result.cells = {}
    for number, item in enumerate(data, start=1):
        if isinstance(item, list):
            raise BadRequest(f"item {number} is an array: send an array of flat objects", field="body")
        if not isinstance(item, dict):
            result.rows.append((number, number, None, "row is not a JSON object"))
            continue
        values: Values = {}
        unknown = []
        for key, value in item.items():
            if isinstance(value, dict | list):
                raise BadRequest(f"item {number} field {key} is nested: send an array of flat objects",
                                 field="body")
            canonical = _canonical(key) or _canonical(_header_key(key))
            if canonical is None:
                unknown.append(key)
                continue
            columns.setdefault(canonical, key)
            if canonical == "id_number" and isinstance(value, int | float) and not isinstance(value, bool):
                result.cell_errors.setdefault(number, {})["id_number"] = (
                    "the ID number is a JSON number (digits may have been lost on the way); send it as a string")
                values[canonical] = None
                continue
            if isinstance(value, str):
                values[canonical] = clean(value)
                continue
            values[canonical], refusal = _cell_text(value, canonical, None)
            if refusal:
                result.cell_errors.setdefault(number, {})[canonical] = refusal
        if result.cells is not None:
            result.cells[number] = [json.dumps(item, ensure_ascii=False)]
        if unknown:
            result.rows.append((number, number, None, f"unknown fields: {', '.join(map(str, unknown))}"))
            continue
        result.rows.append((number, number, values, None))
    for f in REQUIRED:
        columns.setdefault(f, f)
    result.header = ["JSON"]
    result.header_line = 0
    return result


def _media(content_type: str) -> tuple[str, str | None]:
    kind, _, params = content_type.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower() or None
    return kind.strip().lower(), charset


def sniff(body: bytes) -> str | None:
    """The type of a body sent as application/octet-stream (what some upload clients send)."""
    if body.startswith(b"PK\x03\x04"):
        return XLSX_TYPE
    if body.startswith(b"\xd0\xcf\x11\xe0"):
        return "application/vnd.ms-excel"
    if body.lstrip()[:1] in (b"[", b"{"):
        return JSON_TYPE
    return CSV_TYPE


def parse(content_type: str, body: bytes, *, sheet: str | None = None, max_rows: int = 200_000,
          max_unzipped: int = 512 * 2**20, keep_cells: bool = False) -> RawRows:
    kind, charset = _media(content_type)
    if not body.strip():
        raise Invalid("the body is empty", field="body")
    if kind in ("application/octet-stream", ""):
        kind = sniff(body)
    if kind == "application/vnd.ms-excel" or (kind == CSV_TYPE and body.startswith(b"\xd0\xcf\x11\xe0")):
        raise UnsupportedMediaType("this is an old Excel .xls workbook; save it as .xlsx (Excel 工作簿) or CSV",
                                   field="Content-Type")
    if kind == JSON_TYPE:
        return parse_json(body, max_rows=max_rows, keep_cells=keep_cells)
    if kind in (CSV_TYPE, "application/csv"):
        if body.startswith(b"PK\x03\x04"):
            return parse_xlsx(body, sheet=sheet, max_rows=max_rows, max_unzipped=max_unzipped, keep_cells=keep_cells)
        return parse_csv(body, charset=charset, max_rows=max_rows, keep_cells=keep_cells)
    if kind == XLSX_TYPE:
        return parse_xlsx(body, sheet=sheet, max_rows=max_rows, max_unzipped=max_unzipped, keep_cells=keep_cells)
    raise UnsupportedMediaType(f"Content-Type {kind or '(none)'} is not accepted; send {JSON_TYPE}, {CSV_TYPE} "
                               f"or {XLSX_TYPE}", field="Content-Type")
