"""The subsidy rules (pure): the worked example month by month, each rule's edge, and a reference model."""

from __future__ import annotations

import calendar
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.subsidy.eligibility.rules import (
    Certificate,
    PolicyTerms,
    Registration,
    due_months,
    explain,
    facts_from_service,
    month_idx,
    month_str,
)

POLICY = PolicyTerms(code="otog-talent-subsidy", version=1, division_code="150624",
                     certificates_from=date(2023, 1, 1),
                     rates={"senior": 100000, "intermediate": 50000, "assistant": 30000},
                     qualifying_months=12, cap_months=36, effective_from=date(2023, 1, 1), id="v1")
REG = Registration(date(2023, 3, 1), "150624")


def months(first: str, last: str) -> list[str]:
    return [month_str(i) for i in range(month_idx(first), month_idx(last) + 1)]


def full_time(first: str, last: str, **overrides: bool) -> dict[str, bool]:
    service = dict.fromkeys(months(first, last), True)
    service.update({k.replace("_", "-").lstrip("m"): v for k, v in overrides.items()})
    return service


def verdicts(service, certs, *, registration=REG, through="2027-06", from_month="2023-01", versions=None):
    facts = facts_from_service(certificates=certs, registration=registration, service=service)
    return {v.month: v for v in explain(facts, versions or [POLICY], from_month=from_month, through=through)}


def payable(result) -> list[str]:
    return [m for m, v in result.items() if v.payable]


def test_worked_example_month_by_month():
    certs = [Certificate("assistant", date(2023, 6, 15)), Certificate("intermediate", date(2024, 11, 20))]
    result = verdicts(full_time("2023-01", "2027-06"), certs)
    for m in months("2023-01", "2023-06"):
        assert result[m].rule == "no_certificate" and not result[m].payable
    for m in months("2023-07", "2023-11"):  # covered, but the run is short of 12
        assert result[m].rule == "continuity", result[m]
    assert "only 11 of 12" in result["2023-11"].reason
    assert (result["2023-12"].payable, result["2023-12"].level, result["2023-12"].amount_fen) == \
        (True, "assistant", 30000)
    for m in months("2023-12", "2024-11"):
        assert result[m].amount_fen == 30000, m
    for m in months("2024-12", "2026-11"):
        assert (result[m].level, result[m].amount_fen) == ("intermediate", 50000), m
    paid = payable(result)
    assert len(paid) == 36 and paid[0] == "2023-12" and paid[-1] == "2026-11"
    assert result["2026-12"].rule == "cap_reached" and not result["2026-12"].payable
    assert sum(result[m].amount_fen for m in paid) == 12 * 30000 + 24 * 50000


def test_certificate_on_first_and_last_day_of_month_count_from_the_next_month():
    for obtained in (date(2023, 6, 1), date(2023, 6, 30)):
        result = verdicts(full_time("2022-01", "2024-12"), [Certificate("assistant", obtained)],
                          from_month="2023-05")
        assert result["2023-06"].rule == "no_certificate"
        assert result["2023-07"].payable


def test_certificate_before_certificates_from_does_not_count():
    result = verdicts(full_time("2022-01", "2024-12"), [Certificate("senior", date(2022, 12, 31))])
    assert not payable(result) and result["2024-06"].rule == "no_certificate"


def test_twelfth_month_exactly_and_a_one_month_gap():
    service = full_time("2023-01", "2025-12")
    service["2024-03"] = False  # an amendment: 2024-03 was not full-time
    result = verdicts(service, [Certificate("assistant", date(2023, 1, 5))])
    assert result["2023-11"].rule == "continuity" and result["2023-12"].payable  # 12th month exactly
    assert result["2024-03"].rule == "not_full_time" and "not full-time" in result["2024-03"].reason
    # the break: 2024-04 starts a new run, which reaches 12 at 2025-03
    for m in months("2024-04", "2025-02"):
        assert result[m].rule == "continuity", m
    assert result["2025-03"].payable
    # months paid before the break still count towards the cap: 3 (2023-12..2024-02) + ...
    missing = {k: v for k, v in full_time("2023-01", "2025-12").items() if k != "2024-03"}
    gap = verdicts(missing, [Certificate("assistant", date(2023, 1, 5))])
    assert gap["2024-03"].rule == "not_full_time" and "no confirmed service month" in gap["2024-03"].reason
    assert payable(gap) == payable(result)


def test_upgrade_raises_rate_from_first_covered_month_and_shares_the_cap():
    certs = [Certificate("assistant", date(2023, 1, 10)), Certificate("senior", date(2024, 4, 2))]
    result = verdicts(full_time("2023-01", "2027-12"), certs, through="2027-12")
    assert result["2024-04"].amount_fen == 30000 and result["2024-05"].amount_fen == 100000
    assert len(payable(result)) == 36 and payable(result)[-1] == "2026-11"


def test_registration_date_and_bureau():
    certs = [Certificate("assistant", date(2023, 1, 10))]
    late = verdicts(full_time("2023-01", "2025-12"), certs, registration=Registration(date(2024, 2, 29), None))
    assert late["2024-01"].rule == "not_registered" and "2024-02-29" in late["2024-01"].reason
    assert late["2024-02"].payable  # registered on the last day of the month
    elsewhere = verdicts(full_time("2023-01", "2025-12"), certs, registration=Registration(date(2023, 1, 1), "150602"))
    assert not payable(elsewhere) and elsewhere["2024-01"].rule == "not_registered"
    township = verdicts(full_time("2023-01", "2025-12"), certs,
                        registration=Registration(date(2023, 1, 1), "150624100"))
    assert township["2024-01"].payable
    none = verdicts(full_time("2023-01", "2025-12"), certs, registration=None)
    assert none["2024-01"].rule == "not_registered"


def test_revocation_stops_from_the_revocation_month():
    certs = [Certificate("intermediate", date(2023, 1, 10), revoked_on=date(2024, 5, 31)),
             Certificate("assistant", date(2023, 2, 10))]
    result = verdicts(full_time("2023-01", "2025-12"), certs)
    assert result["2024-04"].amount_fen == 50000
    assert result["2024-05"].amount_fen == 30000  # the month of revocation is no longer covered by it


def test_cap_takes_the_earliest_months_whatever_was_paid():
    certs = [Certificate("assistant", date(2023, 1, 10))]
    result = verdicts(full_time("2023-01", "2027-06"), certs)
    assert payable(result)[0] == "2023-12" and payable(result)[-1] == "2026-11"
    assert result["2026-12"].rule == "cap_reached" and "earlier months" in result["2026-12"].reason
    # earlier service and registration (late facts) move the 36 months earlier: the last ones stop being due
    earlier = verdicts(full_time("2022-01", "2027-06"), certs, registration=Registration(date(2022, 1, 1), None))
    assert payable(earlier)[0] == "2023-02" and payable(earlier)[-1] == "2026-01"
    assert earlier["2026-02"].rule == "cap_reached"


def test_due_months_after_a_settled_month_continue_the_cap():
    certs = [Certificate("assistant", date(2023, 1, 10))]
    facts = facts_from_service(certificates=certs, registration=REG, service=full_time("2023-01", "2027-06"))
    everything = due_months(facts, [POLICY], through=month_idx("2027-06"))
    assert len(everything) == 36
    tail = due_months(facts, [POLICY], through=month_idx("2027-06"), after=month_idx("2025-12"), used=25)
    assert [v.month for v in tail] == [v.month for v in everything[25:]] == months("2026-01", "2026-11")


def test_policy_versions_apply_by_month():
    v2 = PolicyTerms(**{**POLICY.__dict__, "version": 2, "rates": {**POLICY.rates, "assistant": 40000},
                        "effective_from": date(2024, 7, 1), "id": "v2"})
    result = verdicts(full_time("2023-01", "2025-12"), [Certificate("assistant", date(2023, 1, 10))],
                      versions=[POLICY, v2])
    assert result["2024-06"].amount_fen == 30000 and result["2024-07"].amount_fen == 40000
    assert result["2024-07"].policy.id == "v2"


# --- property: the service equals an independent reference written from the rules -------------------

LEVELS = ["assistant", "intermediate", "senior"]
RANK = {"assistant": 1, "intermediate": 2, "senior": 3}
BASE = month_idx("2022-06")
SPAN = 60


def reference(service: dict[int, bool], certs, reg, policy: PolicyTerms, lo: int, hi: int):
    """Month by month from the text of the subsidy rules (README.md, "Design"), deliberately naive."""
    def ym(m):
        return m // 12, m % 12 + 1

    def level_at(m):
        best = None
        for level, obtained, revoked in certs:
            if obtained < policy.certificates_from:
                continue
            after_issue = ym(m) > (obtained.year, obtained.month)
            before_revocation = revoked is None or ym(m) < (revoked.year, revoked.month)
            if after_issue and before_revocation and (best is None or RANK[level] > RANK[best]):
                best = level
        return best

    def run_at(m):
        n = 0
        while service.get(m - n) is True:
            n += 1
        return n

    def registered(m):
        if reg is None or reg[0] is None:
            return False
        if reg[1] is not None and not reg[1].startswith(policy.division_code):
            return False
        y, mo = ym(m)
        return reg[0] <= date(y, mo, calendar.monthrange(y, mo)[1])

    out = {}
    count = 0
    for m in range(BASE - 1, hi + 1):
        level = level_at(m)
        ok = (level is not None and service.get(m) is True and run_at(m) >= policy.qualifying_months
              and registered(m))
        if ok and count < policy.cap_months:
            count += 1
            out[m] = ("payable", policy.rates[level])
        else:
            out[m] = ("no", None)
    return {m: v for m, v in out.items() if lo <= m <= hi}


def day_in(offset_max: int):
    def build(m: int, d: int) -> date:  # any day, including the first and the last of a month
        year, month = (BASE + m) // 12, (BASE + m) % 12 + 1
        return date(year, month, min(d, calendar.monthrange(year, month)[1]))

    return st.builds(build, st.integers(0, offset_max), st.integers(1, 31))


histories = st.fixed_dictionaries({
    # a long full-time block, then breaks: a part-time month (False) or a missing month (None)
    "full_block": st.tuples(st.integers(0, 12), st.integers(10, SPAN)),
    "breaks": st.dictionaries(st.integers(0, SPAN - 1), st.sampled_from([False, None]), max_size=5),
    "extra": st.dictionaries(st.integers(0, SPAN - 1), st.booleans(), max_size=5),
    "certs": st.lists(st.tuples(st.sampled_from(LEVELS), day_in(SPAN // 2),
                                st.sampled_from([True, False, False]).flatmap(
                                    lambda revoked: day_in(SPAN) if revoked else st.none())),
                      min_size=1, max_size=3),
    "reg": st.sampled_from(["ok", "ok", "ok", "none", "undated"]).flatmap(lambda kind: st.none() if kind == "none"
                           else st.tuples(st.none() if kind == "undated" else day_in(SPAN // 2),
                                          st.sampled_from([None, "150624", "150624101", "150602"]))),
    "q": st.integers(1, 14),
    "cap": st.integers(3, 40),
    "cut": st.integers(0, SPAN - 1),
})


PAYABLE_SEEN: list[int] = []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories)
def test_matches_reference_implementation(h):
    start, length = h["full_block"]
    service: dict[int, bool] = {m: True for m in range(BASE + start, min(BASE + start + length, BASE + SPAN))}
    service.update({BASE + k: v for k, v in h["extra"].items()})
    for k, v in h["breaks"].items():
        if v is None:
            service.pop(BASE + k, None)
        else:
            service[BASE + k] = False
    policy = PolicyTerms(**{**POLICY.__dict__, "qualifying_months": h["q"], "cap_months": h["cap"]})
    certs = [Certificate(level, obtained, revoked) for level, obtained, revoked in h["certs"]]
    reg = Registration(*h["reg"]) if h["reg"] else None
    facts = facts_from_service(certificates=certs, registration=reg,
                               service={month_str(m): ft for m, ft in service.items()})
    lo, hi = BASE, BASE + SPAN - 1
    got = explain(facts, [policy], from_month=month_str(lo), through=month_str(hi))
    want = reference(service, h["certs"], h["reg"], policy, lo, hi)
    assert [v.month for v in got] == [month_str(m) for m in want]
    for v in got:
        rule, amount = want[month_idx(v.month)]
        if rule == "payable":
            assert v.payable and v.amount_fen == amount, v
        else:
            assert not v.payable and v.rule != "payable", v
    PAYABLE_SEEN.append(sum(v.payable for v in got))
    # the fast path a batch uses gives exactly the payable verdicts, also continued after any settled month
    fast = due_months(facts, [policy], through=hi)
    assert [(v.month, v.amount_fen) for v in fast] == [(v.month, v.amount_fen) for v in got if v.payable]
    cut = lo + h["cut"]
    head = [v for v in fast if month_idx(v.month) <= cut]
    tail = due_months(facts, [policy], through=hi, after=cut, used=len(head))
    assert head + tail == fast


def test_property_examples_were_interesting():
    """Guards the generator: enough random histories must actually pay something."""
    if not PAYABLE_SEEN:
        test_matches_reference_implementation()
    assert sum(1 for n in PAYABLE_SEEN if n > 0) >= 20, PAYABLE_SEEN[:50]
