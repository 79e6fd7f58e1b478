"""Resident ID numbers (GB 11643), unified social credit codes (GB 32100), masking and money."""

from datetime import date

import pytest

from shared.money import fen_to_yuan_str, yuan_to_fen
from shared.validators import (
    birth_date_from_id_number,
    gender_from_id_number,
    mask_id_number,
    mask_phone,
    normalize_credit_code,
    normalize_id_number,
)


def test_valid_id_numbers_from_the_hr_export_are_accepted():
    assert normalize_id_number("150624197406182317") == "150624197406182317"
    assert normalize_id_number(" 15062419731018086x ") == "15062419731018086X"
    assert birth_date_from_id_number("150624197406182317") == date(1974, 6, 18)
    assert gender_from_id_number("150624197406182317") == "male"
    assert gender_from_id_number("15062419731018086X") == "female"


@pytest.mark.parametrize(("value", "reason"), [
    ("150624197406182318", "check digit"),
    ("15062419740618231", "18 characters"),
    ("15062419740618231Y", "18 characters"),
    ("150624197402302317", "not a real date"),
    ("150624209901012316", "out of range"),
])
def test_invalid_id_numbers_are_rejected_with_the_reason(value, reason):
    with pytest.raises(ValueError, match=reason):
        normalize_id_number(value, today=date(2026, 11, 25))


def test_credit_codes():
    assert normalize_credit_code("91350100m000100y43") == "91350100M000100Y43"
    assert normalize_credit_code("91440300708461136T") == "91440300708461136T"
    with pytest.raises(ValueError, match="check character"):
        normalize_credit_code("91350100M000100Y44")
    with pytest.raises(ValueError, match="18 characters"):
        normalize_credit_code("91350100M000100I43")  # I is not in the GB 32100 alphabet


def test_masking_keeps_only_the_ends():
    assert mask_id_number("150624197406182317") == "150624**********17"
    assert mask_phone("13363581984") == "133****1984"


def test_money_is_exact_fen():
    assert yuan_to_fen("782") == 78200
    assert yuan_to_fen("0.1") == 10
    assert fen_to_yuan_str(7820000) == "78200.00"
    with pytest.raises(ValueError):
        yuan_to_fen("1.005")
