"""Records of HR imports: idempotency (a retried POST gets the first answer) and rows awaiting review."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.base import Base


class ImportRequest(Base):
    __tablename__ = "import_requests"
    subject: Mapped[str] = mapped_column(Text, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(Text, primary_key=True)
    request_digest: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    response: Mapped[dict] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class ImportReview(Base):
    """A row that may be a person already in the registry under another ID number (needs review, 待核实).

    Same name and birth date as an existing worker (or an earlier row of the same file) but a different ID
    number: the row is not created; the bureau merges it into that person or confirms a different person.
    The row's values (ID number and phone among them) are kept encrypted until then.
    """

    __tablename__ = "import_reviews"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'merged', 'confirmed')", name="status"),
        CheckConstraint("kept IN ('existing', 'incoming')", name="kept"),
        Index("uq_import_reviews_pending_hash", "id_number_hash", unique=True,
              postgresql_where=text("status = 'pending'")),
        Index("uq_import_reviews_alias_hash", "alias_hash", unique=True,
              postgresql_where=text("alias_hash IS NOT NULL")),
    )
    id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default="pending")
    id_number_hash: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    worker_id: Mapped[uuid.UUID] = mapped_column(PGUUID(as_uuid=True), ForeignKey("workers.id"), nullable=False,
                                                 index=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    birth_date: Mapped[date] = mapped_column(Date, nullable=False)
    row_number: Mapped[int] = mapped_column(Integer, nullable=False)
    row_enc: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    columns: Mapped[dict] = mapped_column(JSONB, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    resolved_by: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result_worker_id: Mapped[uuid.UUID | None] = mapped_column(PGUUID(as_uuid=True), ForeignKey("workers.id"))
    kept: Mapped[str | None] = mapped_column(Text)
    # merged: the look-up hash of the ID number not kept; later imports recognise it as this person
    alias_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
