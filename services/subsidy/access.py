"""Who may see which worker's subsidy data: the filter every read query applies (others get 404)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_, select, true

from services.subsidy.facts.models import ServiceMonthFact
from shared.auth import Principal


def readable_workers(principal: Principal, worker_col) -> ColumnElement[bool]:
    """bureau_admin, auditor (and services) read everything; a station manager the workers with service
    months at their stations; a social worker only themselves; anyone else nothing."""
    if principal.reads_everything:
        return true()
    clauses = []
    if principal.has_any("station_manager") and principal.station_ids:
        clauses.append(worker_col.in_(select(ServiceMonthFact.worker_id).where(
            ServiceMonthFact.station_id.in_(list(principal.station_ids)))))
    if principal.has_any("social_worker") and principal.worker_id is not None:
        clauses.append(worker_col == principal.worker_id)
    if not clauses:
        return false()
    return or_(*clauses)
