"""Stations (the banner's guidance centre and township stations) and organizations."""

from __future__ import annotations

import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Integer, Text
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.orm import Mapped, mapped_column

from services.registry.base import Base, IdMixin


class Organization(IdMixin, Base):
    """A social organization (社会组织) that may operate a station or employ workers."""

    __tablename__ = "organizations"
    name: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str] = mapped_column(Text, nullable=False)
    credit_code: Mapped[str] = mapped_column(Text, nullable=False, unique=True)


class Station(IdMixin, Base):
    """社工站: `centre` is the banner-level guidance centre (社工服务指导中心), `township` a 乡镇(街道)社工站."""

    __tablename__ = "stations"
    __table_args__ = (
        CheckConstraint("kind IN ('centre', 'township')", name="kind"),
        CheckConstraint("star_rating IS NULL OR star_rating BETWEEN 1 AND 10", name="star_rating"),
    )
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(PGUUID(as_uuid=True), ForeignKey("stations.id"))
    division_code: Mapped[str] = mapped_column(Text, nullable=False)
    star_rating: Mapped[int | None] = mapped_column(Integer)
    operating_organization_id: Mapped[uuid.UUID | None] = mapped_column(
        PGUUID(as_uuid=True), ForeignKey("organizations.id"))
