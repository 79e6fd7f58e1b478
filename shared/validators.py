"""Validators for Chinese identifiers: resident ID numbers (GB 11643) and unified social credit codes (GB 32100)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from operator import mul
from typing import Annotated

from pydantic import Field

from shared.clock import bureau_today

# A calendar month "YYYY-MM": ASCII digits only (a regex \d also matches other scripts' digits) and a year from
# 1000 (year 0000 is no date: it failed deep in date arithmetic).
MONTH_PATTERN = r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$"
# A number of people or hours counted by a person: non-negative and within a PostgreSQL integer.
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")
_ID15_RE = re.compile(r"^[0-9]{15}$")

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_RE = re.compile(rf"^[{_USCC_CHARS}]{{18}}$")


_ID_WEIGHTS_OF_ZERO = 48 * sum(_ID_WEIGHTS)  # the weighted sum of 17 ASCII "0" characters


def id_number_check_char(first17: str) -> str:
    """GB 11643 check character of 17 ASCII digits (weighted over their byte values: no int() per digit)."""
    if len(first17) != 17 or not first17.isdigit() or not first17.isascii():
        raise ValueError("the check character is computed from 17 digits")
    return _ID_CHECK[(sum(map(mul, first17.encode(), _ID_WEIGHTS)) - _ID_WEIGHTS_OF_ZERO) % 11]


def upgrade_id_number(legacy: str) -> str:
    """A legacy 15-digit resident ID number (issued before 1999) as its 18-digit form (GB 11643-1999).

    The 15-digit form is area (6) + YYMMDD birth date (6) + serial (3). The 18-digit form inserts the century
    "19" before the birth year (every 15-digit number belongs to someone born in the 1900s) and appends the
    check character computed over the first 17 digits.
    """
    if not _ID15_RE.match(legacy):
        raise ValueError("a legacy ID number has 15 digits")
    first17 = legacy[:6] + "19" + legacy[6:]
    return first17 + id_number_check_char(first17)


def parse_id_number(raw: str, *, today: date | None = None) -> tuple[str, bool]:
    """The canonical 18-character ID number and whether it was converted from the legacy 15-digit form.

    The text is NFKC-normalised first (full-width digits and Ｘ become ASCII), trimmed, and a lower-case x is
    read as X. Raises ValueError saying what is wrong.
    """
    value = (raw or "").strip()
    if not value.isascii():
        value = unicodedata.normalize("NFKC", value).strip()
    value = value.upper()
    converted = False
    if len(value) == 15 and _ID15_RE.match(value):
        try:
            date(1900 + int(value[6:8]), int(value[8:10]), int(value[10:12]))
        except ValueError:
            raise ValueError(f"birth date 19{value[6:12]} in the 15-digit ID number is not a real date") from None
        value, converted = upgrade_id_number(value), True
    elif not _ID_RE.match(value):
        raise ValueError("must be 18 characters (17 digits and a check digit or X) or a legacy 15-digit number")
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValueError(f"birth date {value[6:14]} in the ID number is not a real date") from None
    if birth > (today or bureau_today()) or birth.year < 1900:
        raise ValueError(f"birth date {birth.isoformat()} in the ID number is out of range")
    if not converted and id_number_check_char(value[:17]) != value[17]:
        raise ValueError("check digit does not match (GB 11643)")
    return value, converted


def normalize_id_number(raw: str, *, today: date | None = None) -> str:
    """Return the canonical 18-character ID number or raise ValueError saying what is wrong.

    A legacy 15-digit number is converted (see `upgrade_id_number`), so one person has one canonical number
    (and one look-up hash) whichever form a source used.
    """
    return parse_id_number(raw, today=today)[0]


# Facts a station manager dates further back than this many calendar months (an employment's start, a confirmed
# service month) need the bureau's confirmation before they count towards money.
BACKDATE_MONTHS = 2


def backdated(month: str, today: date) -> bool:
    """Whether the month "YYYY-MM" lies more than BACKDATE_MONTHS calendar months before today's month."""
    return (today.year * 12 + today.month) - (int(month[:4]) * 12 + int(month[5:7])) > BACKDATE_MONTHS


def birth_date_from_id_number(id_number: str) -> date:
    return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))


def gender_from_id_number(id_number: str) -> str:
    """The 17th digit is odd for men, even for women."""
    return "male" if int(id_number[16]) % 2 else "female"


# What a masked ID number keeps: the area code (first 6) and the last 2 (the sex digit and the check character).
# The birth date (8 digits) and the first two sequence digits stay hidden, and responses give no more than the
# birth year beside it, so about 36,500 numbers fit what a reader sees and ~3,300 of them pass the check
# character: the full number cannot be rebuilt (tests/security/test_5_rebuild.py tries). The old mask kept the
# last 4, hiding only the birth date that every role saw in clear.
ID_MASK_HEAD, ID_MASK_TAIL = 6, 2


def mask_id_number(id_number: str) -> str:
    """150624197406182317 -> 150624**********17"""
    return id_number[:ID_MASK_HEAD] + "*" * (len(id_number) - ID_MASK_HEAD - ID_MASK_TAIL) + id_number[-ID_MASK_TAIL:]


def mask_phone(phone: str) -> str:
    """13363581984 -> 133****1984"""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character of a code's first 17 characters."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def normalize_credit_code(raw: str) -> str:
    """Return the canonical unified social credit code or raise ValueError saying what is wrong."""
    value = (raw or "").strip().upper()
    if not _USCC_RE.match(value):
        raise ValueError(f"must be 18 characters from {_USCC_CHARS}")
    if value[17] != credit_code_check_char(value[:17]):
        raise ValueError("check character does not match (GB 32100)")
    return value
