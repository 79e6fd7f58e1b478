"""Resident ID numbers as HR files hold them: legacy 15-digit numbers, lower-case x, full-width digits."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.validators import id_number_check_char, normalize_id_number, parse_id_number, upgrade_id_number


def test_legacy_number_of_the_sample_export_converts_to_its_18_digits():
    # 秦建 of examples/hr-export-sample.csv: 150624197406182317, issued before 1999 as 150624740618231
    assert upgrade_id_number("150624740618231") == "150624197406182317"
    assert parse_id_number("150624740618231") == ("150624197406182317", True)
    assert parse_id_number("150624197406182317") == ("150624197406182317", False)


def test_lower_case_x_full_width_and_spaces():
    assert normalize_id_number("15062419731018086x") == "15062419731018086X"
    assert normalize_id_number("\u3000１５０６２４１９７３１０１８０８６ｘ ") == "15062419731018086X"
    assert normalize_id_number("１５０６２４７４０６１８２３１") == "150624197406182317"


@pytest.mark.parametrize("value,reason", [
    ("150624741318231", "not a real date"),  # month 13 in a legacy number
    ("15062474061823", "15-digit"),
    ("1506247406182311", "15-digit"),
    ("15062474061823X", "15-digit"),
    ("1.50624E+17", "18 characters"),
])
def test_refused_with_the_reason(value, reason):
    with pytest.raises(ValueError, match=reason):
        normalize_id_number(value)


@settings(max_examples=200, deadline=None)
@given(days=st.integers(0, 36_500), serial=st.integers(0, 999), area=st.sampled_from(["150624", "110101", "440305"]))
def test_both_forms_of_one_person_are_one_number(days, serial, area):
    """Every 18-digit number of someone born in the 1900s has a 15-digit form that converts back to it."""
    birth = date(1900, 1, 1) + timedelta(days=days)  # up to 1999-12-08
    first17 = f"{area}{birth:%Y%m%d}{serial:03d}"
    id18 = first17 + id_number_check_char(first17)
    legacy = id18[:6] + id18[8:17]
    assert normalize_id_number(legacy) == normalize_id_number(id18) == id18
