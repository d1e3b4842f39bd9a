"""Units (责任单位) and their aliases."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, utcnow
from .types import UTCDateTime, named_enum


class UnitKind(enum.Enum):
    PROVINCIAL_DEPARTMENT = "provincial_department"
    CUSTOMS = "customs"
    CITY_GOVERNMENT = "city_government"
    COUNTY_GOVERNMENT = "county_government"
    FINANCIAL_INSTITUTION = "financial_institution"
    STATE_OWNED_ENTERPRISE = "state_owned_enterprise"
    OTHER = "other"

    @property
    def label(self) -> str:
        return UNIT_KIND_LABELS[self]


UNIT_KIND_LABELS = {
    UnitKind.PROVINCIAL_DEPARTMENT: "省级部门",
    UnitKind.CUSTOMS: "海关",
    UnitKind.CITY_GOVERNMENT: "设区市政府",
    UnitKind.COUNTY_GOVERNMENT: "县(市、区)政府",
    UnitKind.FINANCIAL_INSTITUTION: "金融机构",
    UnitKind.STATE_OWNED_ENTERPRISE: "国有企业",
    UnitKind.OTHER: "其他",
}


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    canonical_name: Mapped[str] = mapped_column(String(120), unique=True)
    short_name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[UnitKind] = mapped_column(named_enum(UnitKind, "unit_kind"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent", order_by="Unit.sort_order")
    aliases: Mapped[list[UnitAlias]] = relationship(
        back_populates="unit", cascade="all, delete-orphan", order_by="UnitAlias.alias"
    )

    def __repr__(self) -> str:
        return f"<Unit {self.short_name}>"


class UnitAlias(Base):
    """Another name a document may use for a unit (省经信厅 for 浙江省经济和信息化厅).
    Stored normalised, so a lookup is one indexed equality."""

    __tablename__ = "unit_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(120), unique=True)

    unit: Mapped[Unit] = relationship(back_populates="aliases")
