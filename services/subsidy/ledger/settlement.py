"""Settlement: what one worker's ledger needs so that every month up to the batch month nets to what is due.

Pure functions over a worker's entries and the rules' verdicts; `ledger/service.py` loads, locks and writes.

- net(month) = subsidy and top-up entries pending or paid - recoveries (failed and voided count nothing);
- a month with a pending entry whose net is above what is due: that worker's pending transfers of earlier
  batches are voided (a line not yet paid that stops being due is voided, not recovered), then
- diff = due - net per month: a `subsidy` entry when no live one exists for the month, else a `top_up`;
  a `recovery` of -diff when negative (never more than the month's net, since due >= 0).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from services.subsidy.eligibility import rules

PAYMENTS = ("subsidy", "top_up")
LIVE = ("pending", "paid")


class Entry(NamedTuple):
    id: int
    kind: str
    month: int
    level: str | None
    amount_fen: int
    status: str
    batch: uuid.UUID


class NewEntry(NamedTuple):
    kind: str
    month: int
    level: str
    amount_fen: int
    rule: str
    reason: str
    due_fen: int
    policy_id: object


class Settlement(NamedTuple):
    void_batches: frozenset[uuid.UUID]  # earlier batches whose pending transfer to this worker is voided
    entries: list[NewEntry]
    due_count: int


def versions_key(terms: Sequence[rules.PolicyTerms]) -> str:
    """Changes when any version's terms change: every worker is then settled month by month."""
    text = repr(sorted((str(t.id), t.version, t.division_code, t.certificates_from, sorted(t.rates.items()),
                        t.qualifying_months, t.cap_months, t.effective_from, t.effective_to) for t in terms))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def is_live(entry: Entry, voided: frozenset[uuid.UUID]) -> bool:
    if entry.kind == "recovery":
        return True
    return entry.status == "paid" or (entry.status == "pending" and entry.batch not in voided)


def nets(entries: Iterable[Entry], voided: frozenset[uuid.UUID] = frozenset()) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for e in entries:
        if is_live(e, voided):
            out[e.month] += -e.amount_fen if e.kind == "recovery" else e.amount_fen
    return out


def new_months(verdicts: Iterable[rules.MonthVerdict]) -> list[NewEntry]:
    """A clean worker's fast path: each due month after the settled one is a first payment."""
    return [NewEntry("subsidy", rules.month_idx(v.month), v.level, v.amount_fen, v.rule, v.reason, v.amount_fen,
                     v.policy.id) for v in verdicts]


def may_void(entries: Iterable[Entry]) -> bool:
    """Whether `settle` could void a transfer for these entries: only a pending payment is ever voided."""
    return any(e.kind in PAYMENTS and e.status == "pending" for e in entries)


def settle(due: Sequence[rules.MonthVerdict], entries: Sequence[Entry], *, through: int,
           why: Callable[[int], rules.MonthVerdict]) -> Settlement:
    """Every month up to `through` of one worker and policy; `why(m)` explains a month that is not due."""
    due_by_month = {rules.month_idx(v.month): v for v in due}
    owed = {m: v.amount_fen for m, v in due_by_month.items()}
    net = nets(entries)
    void = frozenset(e.batch for e in entries
                     if e.kind in PAYMENTS and e.status == "pending" and e.month <= through
                     and net[e.month] > owed.get(e.month, 0))
    if void:
        net = nets(entries, void)
    live_first = {e.month for e in entries if e.kind == "subsidy" and is_live(e, void)}
    level_of: dict[int, str] = {}
    for e in sorted(entries, key=lambda e: e.id):  # the latest live payment's level names a month's level
        if e.kind in PAYMENTS and is_live(e, void) and e.level:
            level_of[e.month] = e.level
    out: list[NewEntry] = []
    for m in sorted(set(owed) | {m for m, n in net.items() if n}):
        if m > through:
            continue
        d, n = owed.get(m, 0), net.get(m, 0)
        if d > n:
            v = due_by_month[m]
            if m in live_first:
                out.append(NewEntry("top_up", m, v.level, d - n, v.rule,
                                    f"{v.reason}: due {d} fen, net so far {n} fen", d, v.policy.id))
            else:
                reason = v.reason if n == 0 else f"{v.reason}: due {d} fen, net so far {n} fen"
                out.append(NewEntry("subsidy", m, v.level, d - n, v.rule, reason, d, v.policy.id))
        elif d < n:
            v = due_by_month.get(m) or why(m)
            policy_id = v.policy.id if v.policy else None
            out.append(NewEntry("recovery", m, level_of.get(m) or v.level or "assistant", n - d, v.rule,
                                f"{v.reason}: due {d} fen, net so far {n} fen", d, policy_id))
    return Settlement(void, out, len(due))


def explain_month(facts: rules.Facts, versions: Sequence[rules.PolicyTerms], m: int) -> rules.MonthVerdict:
    """Why a month with a net is not (or no longer fully) due: its rules, or the cap taken by earlier months."""
    verdict = rules.month_rules(facts, versions, m)
    if verdict.payable:
        cap = verdict.policy.cap_months
        return rules.MonthVerdict(verdict.month, False, "cap_reached",
                                  f"the cap of {cap} months per worker and policy is taken by earlier months",
                                  verdict.level, policy=verdict.policy)
    return verdict
