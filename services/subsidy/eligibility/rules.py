"""The subsidy rules as a pure function: facts + policy versions + months -> a verdict per month, explained.

No I/O here. Months are handled as integer indexes (year * 12 + month - 1) and shown as YYYY-MM.
The seven rules of README.md ("Design", "The subsidy rules"), for month M:
 1. a certificate obtained on/after `certificates_from` covers M when M is after its calendar month of
    issue and (if revoked) before the calendar month of revocation; the rate is the highest covering level;
 2. a confirmed full-time service month exists for M;
 3. the unbroken run of confirmed full-time months ending at M is >= `qualifying_months` long;
 4. the worker is registered with the policy's bureau on or before the last day of M;
 5. at most `cap_months` months are due per worker and policy: the first `cap_months` months that pass
    rules 1-4, earliest first. What is due never depends on what was paid: the ledger settles the
    difference (ledger/settlement.py), and once settled a month has a positive net exactly when it is due,
    so "months paid count towards the cap" holds on the settled ledger;
 6. an upgrade raises the rate from its first covered month, the cap is shared;
 7. a break stops payment until a new run reaches `qualifying_months`.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

LEVEL_RANK = {"assistant": 1, "intermediate": 2, "senior": 3}
LEVEL_NAMES = {"assistant": "assistant social worker (助理社会工作师)",
               "intermediate": "social worker (社会工作师)", "senior": "senior social worker (高级社会工作师)"}


# --- months -----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def month_idx(month: str) -> int:
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


@functools.lru_cache(maxsize=4096)
def month_str(idx: int) -> str:
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def date_month(day: date) -> int:
    return day.year * 12 + day.month - 1


@functools.lru_cache(maxsize=4096)
def first_day(idx: int) -> date:
    return date(idx // 12, idx % 12 + 1, 1)


@functools.lru_cache(maxsize=4096)
def last_day(idx: int) -> date:
    year, mon = idx // 12, idx % 12 + 1
    return date(year, mon, calendar.monthrange(year, mon)[1])


# --- inputs (named tuples: a batch builds hundreds of thousands of them) ---------------------------

class Certificate(NamedTuple):
    level: str | None  # None while only the revocation is known
    obtained_on: date | None
    revoked_on: date | None = None
    certificate_id: object = None


class Registration(NamedTuple):
    registered_on: date | None
    division_code: str | None = None


@dataclass(frozen=True)
class PolicyTerms:
    code: str
    version: int
    division_code: str
    certificates_from: date
    rates: Mapping[str, int]
    qualifying_months: int
    cap_months: int
    effective_from: date
    effective_to: date | None = None
    id: object = None


class Facts(NamedTuple):
    """What the service knows of one worker.

    `runs` are the unbroken runs of confirmed full-time months as (first, last) month indexes;
    `part_time` the confirmed months that were not full-time (only used to explain).
    """

    certificates: tuple[Certificate, ...] = ()
    registration: Registration | None = None
    runs: tuple[tuple[int, int], ...] = ()
    part_time: frozenset[int] = frozenset()


def runs_from_months(full_time_months: Iterable[int]) -> tuple[tuple[int, int], ...]:
    runs: list[tuple[int, int]] = []
    for m in sorted(set(full_time_months)):
        if runs and runs[-1][1] == m - 1:
            runs[-1] = (runs[-1][0], m)
        else:
            runs.append((m, m))
    return tuple(runs)


def facts_from_service(*, certificates: Sequence[Certificate] = (), registration: Registration | None = None,
                       service: Mapping[str, bool] | None = None) -> Facts:
    """Facts from readable inputs: `service` maps YYYY-MM to full_time."""
    service = service or {}
    return Facts(
        certificates=tuple(certificates), registration=registration,
        runs=runs_from_months(month_idx(m) for m, ft in service.items() if ft),
        part_time=frozenset(month_idx(m) for m, ft in service.items() if not ft))


# --- outputs ----------------------------------------------------------------------------------------

class MonthVerdict(NamedTuple):
    month: str
    payable: bool
    rule: str
    reason: str
    level: str | None = None
    amount_fen: int | None = None
    policy: PolicyTerms | None = None  # the version that decided

    def as_dict(self) -> dict:
        return {"month": self.month, "payable": self.payable, "rule": self.rule, "reason": self.reason,
                "level": self.level, "amount_fen": self.amount_fen}


# --- the rules --------------------------------------------------------------------------------------

def terms_for(versions: Sequence[PolicyTerms], m: int) -> PolicyTerms | None:
    """The version in force in month M: the highest version whose effective period touches M."""
    if isinstance(versions, Versions):
        return versions.at(m)
    start, end = first_day(m), last_day(m)
    best = None
    for terms in versions:
        if terms.effective_from <= end and (terms.effective_to is None or terms.effective_to >= start):
            if best is None or terms.version > best.version:
                best = terms
    return best


class Versions(tuple):
    """A policy's versions with the month -> version lookup memoised (a batch asks the same months 100,000 times)."""

    def __new__(cls, versions: Iterable[PolicyTerms]):
        self = super().__new__(cls, versions)
        self._cache = {}
        self._payable = {}  # (month, level) -> its payable verdict (see _payable)
        return self

    def at(self, m: int) -> PolicyTerms | None:
        try:
            return self._cache[m]
        except KeyError:
            found = self._cache[m] = terms_for(tuple(self), m)
            return found


def _spans(certificates: Iterable[Certificate]) -> list[tuple[int, str, date, int, int | None]]:
    """Each known certificate as (rank, level, obtained on, first covered month, month of revocation or None)."""
    return [(LEVEL_RANK[c.level], c.level, c.obtained_on, date_month(c.obtained_on) + 1,
             None if c.revoked_on is None else date_month(c.revoked_on))
            for c in certificates if c.level is not None and c.obtained_on is not None]


def _level_in(spans: Sequence[tuple[int, str, date, int, int | None]], terms: PolicyTerms, m: int) -> str | None:
    best, rank = None, 0
    for r, level, obtained_on, first, revoked in spans:
        if obtained_on < terms.certificates_from or m < first or (revoked is not None and m >= revoked):
            continue
        if r > rank:
            best, rank = level, r
    return best


def covering_level(certificates: Iterable[Certificate], terms: PolicyTerms, m: int) -> str | None:
    """Rule 1 (and 6): the highest level among certificates covering M under these terms."""
    return _level_in(_spans(certificates), terms, m)


def _run_length(runs: Sequence[tuple[int, int]], m: int) -> int:
    for first, last in runs:
        if first <= m <= last:
            return m - first + 1
    return 0


def _registered(registration: Registration | None, terms: PolicyTerms, m: int) -> str | None:
    """Rule 4; returns why not, or None when registered with the policy's bureau by the end of M."""
    if registration is None or registration.registered_on is None:
        return "not registered with the civil affairs bureau"
    division = registration.division_code
    if division is not None and not division.startswith(terms.division_code):
        return f"registered in division {division}, not with the policy's bureau ({terms.division_code})"
    if registration.registered_on > last_day(m):
        return f"registered only on {registration.registered_on.isoformat()}, after the end of {month_str(m)}"
    return None


def month_rules(facts: Facts, versions: Sequence[PolicyTerms], m: int) -> MonthVerdict:
    """Rules 1-4 for one month, before the cap."""
    month = month_str(m)
    terms = terms_for(versions, m)
    if terms is None:
        return MonthVerdict(month, False, "not_in_force", f"no version of the policy is in force in {month}")
    level = covering_level(facts.certificates, terms, m)
    if level is None:
        return MonthVerdict(month, False, "no_certificate",
                            f"no certificate obtained on or after {terms.certificates_from.isoformat()} covers "
                            f"{month} (a certificate counts from the month after it is obtained)", policy=terms)
    run = _run_length(facts.runs, m)
    if run == 0:
        why = "the confirmed service month is not full-time" if m in facts.part_time else \
            "no confirmed service month"
        return MonthVerdict(month, False, "not_full_time", f"{why} for {month}", level, policy=terms)
    if run < terms.qualifying_months:
        return MonthVerdict(month, False, "continuity",
                            f"unbroken full-time run ending at {month} is only {run} of "
                            f"{terms.qualifying_months} months", level, policy=terms)
    not_registered = _registered(facts.registration, terms, m)
    if not_registered:
        return MonthVerdict(month, False, "not_registered", not_registered, level, policy=terms)
    return _payable(versions, terms, m, level)


def _payable(versions: Sequence[PolicyTerms], terms: PolicyTerms, m: int, level: str) -> MonthVerdict:
    """The verdict of a payable month; the same value for every worker, so a `Versions` keeps it."""
    cache = versions._payable if isinstance(versions, Versions) else {}
    try:
        return cache[m, level]
    except KeyError:
        verdict = cache[m, level] = MonthVerdict(month_str(m), True, "payable",
                                                 f"payable at the {LEVEL_NAMES[level]} rate", level,
                                                 int(terms.rates[level]), policy=terms)
        return verdict


def _cap_reached(verdict: MonthVerdict, cap: int) -> MonthVerdict:
    return MonthVerdict(verdict.month, False, "cap_reached",
                        f"the cap of {cap} months per worker and policy is reached by earlier months", verdict.level,
                        policy=verdict.policy)


def explain(facts: Facts, versions: Sequence[PolicyTerms], *, from_month: str, through: str) -> list[MonthVerdict]:
    """A verdict for every month from `from_month` through `through` (inclusive).

    Rule 5: the months passing rules 1-4 take the cap earliest first, also those before `from_month`.
    """
    lo, hi = month_idx(from_month), month_idx(through)
    used = 0
    start = min([lo, *(first for first, _ in facts.runs)])
    verdicts = []
    for m in range(start, hi + 1):
        verdict = month_rules(facts, versions, m)
        if verdict.payable:
            if used >= verdict.policy.cap_months:
                verdict = _cap_reached(verdict, verdict.policy.cap_months)
            else:
                used += 1
        if m >= lo:
            verdicts.append(verdict)
    return verdicts


def due_months(facts: Facts, versions: Sequence[PolicyTerms], *, through: int, after: int | None = None,
               used: int = 0) -> list[MonthVerdict]:
    """The due months up to `through` (an index), earliest first: the payable verdicts of `explain`.

    Computed only over months that can qualify (inside a full-time run, at least `qualifying_months` into it),
    so 100,000 workers are cheap. With `after` and `used` (how many months up to `after` are due), only the
    due months after `after`: a batch's fast path for a worker whose facts have not changed since it was
    settled through `after`.
    """
    if not facts.runs or not versions:
        return []
    min_q = min(v.qualifying_months for v in versions)
    floor = after + 1 if after is not None else None
    candidates: set[int] = set()
    for first, last in facts.runs:
        lo, hi = first + min_q - 1, min(last, through)
        if floor is not None:
            lo = max(lo, floor)
        if lo <= hi:
            candidates.update(range(lo, hi + 1))
    # Rules 1-4 as month_rules applies them, without the words of the months that fail (only due ones are kept)
    spans = _spans(facts.certificates)
    registration = facts.registration
    registered_from = None if registration is None or registration.registered_on is None else \
        date_month(registration.registered_on)
    division = registration.division_code if registration is not None else None
    out = []
    for m in sorted(candidates):
        terms = terms_for(versions, m)
        if terms is None or registered_from is None or m < registered_from or (
                division is not None and not division.startswith(terms.division_code)):
            continue
        level = _level_in(spans, terms, m)
        run = _run_length(facts.runs, m)
        if level is None or run == 0 or run < terms.qualifying_months or used >= terms.cap_months:
            continue
        used += 1
        out.append(_payable(versions, terms, m, level))
    return out
