"""The bureau's clock: dates are Asia/Shanghai dates whatever the server's time zone."""

from datetime import UTC, date, datetime

from services.projects.common import Clock
from services.registry.common import today as registry_today
from services.subsidy.ledger.service import month_has_begun
from shared.clock import bureau_today
from shared.validators import id_number_check_char, normalize_id_number


def test_the_bureau_date_turns_at_midnight_in_ordos_not_in_utc():
    # 2026-11-30 16:00 UTC is 2026-12-01 00:00 in Ordos
    assert bureau_today(datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)) == date(2026, 11, 30)
    assert bureau_today(datetime(2026, 11, 30, 16, 0, tzinfo=UTC)) == date(2026, 12, 1)


def test_a_batch_month_begins_at_local_midnight():
    assert not month_has_begun("2026-12", now=datetime(2026, 11, 30, 15, 59, tzinfo=UTC))
    assert month_has_begun("2026-12", now=datetime(2026, 11, 30, 16, 1, tzinfo=UTC))


def test_services_take_today_from_the_bureau_clock(monkeypatch):
    """The clock is set to 16:30 UTC on the last day of 2099, 2100-01-01 in Ordos: a service that took its date
    from anywhere else (the real clock, UTC) would not give 2100-01-01 (comparing each with bureau_today() could
    not fail while they all call it)."""
    now = datetime(2099, 12, 31, 16, 30, tzinfo=UTC)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return now.astimezone(tz)

    monkeypatch.setattr("shared.clock.datetime", Frozen)
    assert Clock().today() == registry_today() == date(2100, 1, 1)
    # an ID number born "today" in the bureau's date is accepted (not "in the future")
    body = "150624" + "21000101" + "231"
    number = body + id_number_check_char(body)
    assert normalize_id_number(number) == number
