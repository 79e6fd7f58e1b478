"""Bank files from templates kept as data (`bank_templates.json`), and the bank's result files.

A bank file is rendered from the release's rows (sequence, the registry's clear name, account and ID number,
the amount) and nothing else: no clock, no random ids. XLSX parts carry a fixed time and the zip a fixed date,
so the same release renders the same bytes every time; the release records each template's sha256.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from openpyxl import Workbook

from shared.errors import Invalid, NotFound
from shared.money import fen_to_yuan_str

DATA = Path(__file__).with_name("bank_templates.json")
MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "csv": "text/csv; charset=utf-8", "fixed": "text/plain; charset=gbk"}
EXTENSION = {"xlsx": "xlsx", "csv": "csv", "fixed": "txt"}
FIXED_TIME = datetime(2000, 1, 1)  # the XLSX document's created/modified time: no clock in the bytes
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Row:
    seq: int
    name: str
    account: str
    amount_fen: int
    id_number: str

    def value(self, field: str) -> str:
        if field == "amount":
            return fen_to_yuan_str(self.amount_fen)
        return str(getattr(self, field))


@cache
def _data() -> dict:
    return json.loads(DATA.read_text(encoding="utf-8"))


def templates() -> dict[str, dict]:
    return _data()["templates"]


def template(code: str) -> dict:
    found = templates().get(code)
    if found is None:
        raise NotFound(f"no bank file template {code!r}; templates: {', '.join(sorted(templates()))}")
    return found


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _table(spec: dict, rows: list[Row]) -> list[list[str]]:
    fields = [field for field, _ in spec["columns"]]
    table = [[title for _, title in spec["columns"]]]
    table += [[row.value(field) for field in fields] for row in rows]
    control = [""] * len(fields)
    control[0] = spec["control"]["label"]
    control[fields.index("account")] = str(len(rows))
    control[fields.index("amount")] = fen_to_yuan_str(sum(r.amount_fen for r in rows))
    if spec["control"]["position"] == "top":
        return [control, *table]
    return [*table, control]


def _stable_zip(data: bytes) -> bytes:
    """The same archive with a fixed date on every member and a fixed modification time in the document's
    properties (openpyxl stamps the time of writing on both)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = info.external_attr
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                 rb"\g<1>" + FIXED_TIME.isoformat().encode() + rb"Z\g<2>", content)
            target.writestr(member, content)
    return out.getvalue()


def _xlsx(spec: dict, rows: list[Row]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = spec.get("sheet", "Sheet1")
    for values in _table(spec, rows):
        sheet.append(values)
    for column in sheet.columns:  # text cells: account and ID numbers keep every digit
        for cell in column:
            cell.number_format = "@"
    book.properties.created = book.properties.modified = FIXED_TIME
    book.properties.creator = "socialwork-platform"
    out = io.BytesIO()
    book.save(out)
    return _stable_zip(out.getvalue())


def _csv(spec: dict, rows: list[Row]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(_table(spec, rows))
    return buffer.getvalue().encode(spec.get("encoding", "utf-8-sig"))


def _field(value: str, width: int, align: str, pad: str, encoding: str, what: str) -> bytes:
    try:
        raw = value.encode(encoding)
    except UnicodeEncodeError:
        raise Invalid(f"{what} {value!r} cannot be written in {encoding}", field="template") from None
    if len(raw) > width:
        raise Invalid(f"{what} {value!r} is longer than the {width} bytes of its field", field="template")
    filler = pad.encode(encoding) * (width - len(raw))
    return filler + raw if align == "right" else raw + filler


def _fixed(spec: dict, rows: list[Row]) -> bytes:
    encoding, end = spec["encoding"], spec["line_end"].encode()
    totals = {"count": str(len(rows)), "total_fen": str(sum(r.amount_fen for r in rows))}
    lines = [b"".join(_field(totals[f], w, a, p, encoding, f) for f, w, a, p in spec["header"])]
    for row in rows:
        lines.append(b"".join(_field(row.value(f), w, a, p, encoding, f"{f} of row {row.seq}")
                              for f, w, a, p in spec["columns"]))
    return end.join(lines) + end


def render(code: str, rows: list[Row]) -> bytes:
    spec = template(code)
    return {"xlsx": _xlsx, "csv": _csv, "fixed": _fixed}[spec["format"]](spec, rows)


def filename(code: str, policy: str, month: str) -> str:
    return f"bank-{policy}-{month}-{code}.{EXTENSION[template(code)['format']]}"


# --- the bank's result file ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResultRow:
    row: int  # the row number in the file (1-based), for the report
    seq: int | None
    account: str
    amount_fen: int | None
    paid: bool
    reason: str | None


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")  # Chinese Excel's CSV, a superset of GBK


def _fen(text: str, *, row: int, what: str) -> int:
    try:
        value = Decimal(text.replace(",", "").strip())
        exact = value.is_finite() and value == value.quantize(Decimal("0.01")) and 0 <= value < 10**12
    except InvalidOperation:
        exact = False
    if not exact:
        raise Invalid(f"row {row}: {what} {text!r} is not an amount in yuan with at most two decimals",
                      field="file")
    return int(value * 100)


def parse_results(data: bytes) -> tuple[list[ResultRow], int, int]:
    """The rows, and the control count and total (fen) the file states. Any row the layout cannot read, or a
    control row that is missing or does not add up to the rows, refuses the whole file (422)."""
    spec = _data()["results"]
    try:
        text = _decode(data)
    except UnicodeDecodeError:
        raise Invalid("the result file is neither UTF-8 nor GBK text", field="file") from None
    try:
        table = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    except csv.Error as exc:
        raise Invalid(f"the result file is not CSV text: {exc}", field="file") from None
    titles = spec["columns"]
    header = next((i for i, r in enumerate(table[:20]) if titles["seq"] in r and titles["account"] in r), None)
    if header is None:
        raise Invalid(f"no header row naming {titles['seq']} and {titles['account']} in the first 20 rows",
                      field="file")
    index = {key: (table[header].index(t) if t in table[header] else None) for key, t in titles.items()}
    missing = [titles[k] for k in ("seq", "account", "amount", "result") if index[k] is None]
    if missing:
        raise Invalid(f"the result file has no column {', '.join(missing)}", field="file")

    def cell(r: list[str], key: str) -> str:
        i = index[key]
        return r[i] if i is not None and i < len(r) else ""

    rows, control = [], None
    paid_words = {w.lower() for w in spec["paid"]}
    failed_words = {w.lower() for w in spec["failed"]}
    for n, r in enumerate(table[header + 1:], start=header + 2):
        if r[0] == spec["control_label"]:
            control = (n, r)
            break
        result = cell(r, "result").lower()
        if result not in paid_words | failed_words:
            raise Invalid(f"row {n}: result {cell(r, 'result')!r} is neither {spec['paid'][0]} nor "
                          f"{spec['failed'][0]}", field="file")
        seq = cell(r, "seq")
        rows.append(ResultRow(row=n, seq=int(seq) if re.fullmatch(r"[0-9]{1,9}", seq) else None,
                              account=re.sub(r"[\s\-]", "", cell(r, "account")),
                              amount_fen=_fen(cell(r, "amount"), row=n, what="amount"),
                              paid=result in paid_words, reason=cell(r, "reason") or None))
    if control is None:
        raise Invalid(f"the result file has no control row ({spec['control_label']}) with the count and total",
                      field="file")
    n, r = control
    count_text = cell(r, "account")
    if not re.fullmatch(r"[0-9]{1,9}", count_text):
        raise Invalid(f"row {n}: the control count {count_text!r} is not a number", field="file")
    count, total = int(count_text), _fen(cell(r, "amount"), row=n, what="control total")
    if count != len(rows) or total != sum(x.amount_fen for x in rows):
        raise Invalid(f"control figures do not match the rows: the file states {count} rows and "
                      f"{fen_to_yuan_str(total)} yuan, its rows are {len(rows)} and "
                      f"{fen_to_yuan_str(sum(x.amount_fen for x in rows))} yuan; nothing was applied",
                      field="file")
    return rows, count, total
