"""Workbooks for the people who prepare import files: the template to fill in, and the report of an import.

The report is the rows as they were sent plus two columns (结果 the outcome, 原因 the reasons), so staff fix
the marked rows in Excel and upload the file again. The template has the headers, an instructions sheet,
drop-down lists (certificate level, station, gender, yes/no) and the identifier columns formatted as text,
so Excel never turns an ID number into a number.
"""

from __future__ import annotations

import functools
import io

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from services.registry.common import LEVEL_LABELS_ZH
from services.registry.imports.parsing import HEADER_SEARCH_ROWS, RawRows

TEMPLATE_HEADERS = ["姓名", "身份证号", "性别", "出生日期", "手机号", "学历", "政治面貌", "所在社工站", "岗位",
                    "是否专职", "入职日期", "证书等级", "证书编号", "取得日期", "开户银行", "银行账号", "备注"]
# Identifiers typed as text: Excel keeps 15 significant digits of a number (ID numbers have 18).
TEXT_COLUMNS = ("身份证号", "手机号", "证书编号", "银行账号")
TEMPLATE_ROWS = 2000
STATUS_ZH = {"created": "新增", "updated": "更新", "unchanged": "无变化", "needs_review": "待核实", "error": "错误"}
_BAD = PatternFill("solid", fgColor="FFF2CC")
_HEAD = Font(bold=True)

INSTRUCTIONS = [
    "填写说明 (how to fill in the sheet 人员信息)",
    "",
    "1. 姓名 and 身份证号 are required; the other columns may be left empty.",
    "2. 身份证号: 18 characters (a lower-case x is accepted); a legacy 15-digit number is converted to 18 digits.",
    "   The column is formatted as text: if you paste numbers, paste as values (选择性粘贴 → 数值) into it;",
    "   an ID number that Excel holds as a number is refused (its last digits may be lost).",
    "3. Dates: 2019-03-05, 2019/3/5, 2019.3.5, 2019年3月5日, 20190305 or an Excel date.",
    "4. 是否专职: 是/否 (also Y/N, 1/0, √/×). 性别: 男/女 (checked against the ID number).",
    "5. 证书等级: " + " / ".join(LEVEL_LABELS_ZH.values()) + "; with a level, 证书编号 and 取得日期 are required.",
    "6. 所在社工站: a station of the list; with a station, 入职日期 is required.",
    f"7. Title rows above the header are allowed (the header is looked for in the first {HEADER_SEARCH_ROWS} rows);",
    "   merged cells take the value of their top-left cell.",
    "8. A person whose name and birth date match someone already registered under another ID number is not",
    "   created: the bureau reviews the row (待核实) and merges it or confirms a different person.",
    "9. 开户银行 and 银行账号 (optional, both or neither): the account the subsidy is paid into, in the person's",
    "   own name. 银行账号 is formatted as text (Excel keeps only 15 digits of a number). An account sent by",
    "   anyone but the bureau waits for the bureau's confirmation.",
]


def _text(value: str) -> str:
    """A cell's text as sent, minus the control characters an XLSX cannot hold."""
    return ILLEGAL_CHARACTERS_RE.sub("", value)


def _append_text(sheet, values: list[str]) -> None:
    """Append a row of text cells: a value starting with "=" stays text, never becomes a formula."""
    sheet.append([_text(v) for v in values])
    for cell in sheet[sheet.max_row]:
        if cell.data_type == "f":
            cell.data_type = "s"


def _save(workbook: Workbook) -> bytes:
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()


@functools.lru_cache(maxsize=4)
def template(stations: tuple[str, ...]) -> bytes:
    """The template for these station names (built once per list: stations change rarely)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "人员信息"
    sheet.append(TEMPLATE_HEADERS)
    for cell in sheet[1]:
        cell.font = _HEAD
    sheet.freeze_panes = "A2"
    letters = {h: get_column_letter(i) for i, h in enumerate(TEMPLATE_HEADERS, start=1)}
    for header in TEMPLATE_HEADERS:
        sheet.column_dimensions[letters[header]].width = 22 if header in TEXT_COLUMNS or "社工站" in header else 12
    for header in TEXT_COLUMNS:
        letter = letters[header]
        sheet.column_dimensions[letter].number_format = "@"
        for (cell,) in sheet.iter_rows(min_row=2, max_row=TEMPLATE_ROWS + 1, min_col=sheet[letter + "1"].column,
                                       max_col=sheet[letter + "1"].column):
            cell.number_format = "@"

    lists = workbook.create_sheet("选项")
    choices = {"level": list(LEVEL_LABELS_ZH.values()), "station": list(stations) or ["(no station yet)"],
               "yes_no": ["是", "否"], "gender": ["男", "女"]}
    for col, values in enumerate(choices.values(), start=1):
        for row, value in enumerate(values, start=1):
            lists.cell(row=row, column=col, value=_text(value)).data_type = "s"
    lists.sheet_state = "hidden"

    def drop_down(header: str, column: int, name: str) -> None:
        letter = get_column_letter(column)
        formula = f"'选项'!${letter}$1:${letter}${len(choices[name])}"
        validation = DataValidation(type="list", formula1=f"={formula}", allow_blank=True, showErrorMessage=True,
                                    errorTitle=header, error=f"choose a value of the list ({header})")
        sheet.add_data_validation(validation)
        validation.add(f"{letters[header]}2:{letters[header]}{TEMPLATE_ROWS + 1}")

    drop_down("证书等级", 1, "level")
    drop_down("所在社工站", 2, "station")
    drop_down("是否专职", 3, "yes_no")
    drop_down("性别", 4, "gender")

    notes = workbook.create_sheet("填写说明")
    for line in INSTRUCTIONS:
        notes.append([line])
    notes["A1"].font = _HEAD
    notes.column_dimensions["A"].width = 110
    return _save(workbook)


def report(raw: RawRows, result: dict) -> bytes:
    """The rows as sent, each with its outcome and reasons (rows not in the answer are left out)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "导入结果"
    _append_text(sheet, [*raw.header, "结果", "原因"])
    for cell in sheet[1]:
        cell.font = _HEAD
    sheet.freeze_panes = "A2"
    cells = raw.cells or {}
    width = len(raw.header)
    for item in result["results"]:
        sent = list(cells.get(item["row"], []))[:width]
        sent += [""] * (width - len(sent))
        reasons = [f"{e['column']}: {e['reason']}" for e in item["errors"]]
        reasons += [f"{n['column']}: {n['note']}" for n in item.get("notes", ())]
        if item["status"] == "needs_review":
            reasons.append("same name and birth date as a registered person: the bureau reviews this row")
        _append_text(sheet, [*sent, STATUS_ZH.get(item["status"], item["status"]), "; ".join(reasons)])
        if item["status"] in ("error", "needs_review"):
            for cell in sheet[sheet.max_row]:
                cell.fill = _BAD
    for index in range(1, width + 1):
        sheet.cell(row=1, column=index).alignment = Alignment(wrap_text=False)
        # the cells were text in the file: keep them text (an ID number must not become a number again)
        sheet.column_dimensions[get_column_letter(index)].number_format = "@"
    sheet.column_dimensions[get_column_letter(width + 2)].width = 80
    return _save(workbook)
