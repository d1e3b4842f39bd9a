"""Units and the names documents use for them."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..db import session
from ..domain.text import clean_text
from ..importer.units import load_unit_seeds, normalise_unit_name
from ..errors import NotFound
from ..models import Unit, UnitAlias, UnitKind, User
from ..policy import authorize


def get_unit(actor: User, unit_id: int) -> Unit:
    authorize(actor, "unit.view")
    unit = session().get(Unit, unit_id)
    if unit is None:
        raise NotFound("未找到该单位")
    return unit


def find_unit(name: str) -> Unit | None:
    """The unit a name means: its canonical name, short name or an alias."""
    key = normalise_unit_name(name)
    return session().scalar(select(Unit).join(UnitAlias).where(UnitAlias.alias == key))


def _add_alias(unit: Unit, name: str) -> None:
    key = normalise_unit_name(name)
    if not key or any(a.alias == key for a in unit.aliases):
        return
    owner = session().scalar(select(UnitAlias).where(UnitAlias.alias == key))
    if owner is None:
        unit.aliases.append(UnitAlias(alias=key))


def ensure_unit(
    canonical_name: str,
    *,
    short_name: str | None = None,
    kind: UnitKind = UnitKind.OTHER,
    parent: Unit | None = None,
    aliases: tuple[str, ...] = (),
    sort_order: int = 0,
) -> Unit:
    """Create the unit if no unit has this name yet; return it either way."""
    canonical_name = clean_text(canonical_name, multiline=False).strip()
    short_name = clean_text(short_name, multiline=False).strip() if short_name else short_name
    aliases = tuple(clean_text(a, multiline=False).strip() for a in aliases)
    sess = session()
    unit = sess.scalar(select(Unit).where(Unit.canonical_name == canonical_name)) or find_unit(canonical_name)
    if unit is None:
        unit = Unit(
            canonical_name=canonical_name,
            short_name=short_name or canonical_name,
            kind=kind,
            parent=parent,
            sort_order=sort_order,
        )
        sess.add(unit)
        sess.flush()
    for name in (canonical_name, short_name or "", *aliases):
        _add_alias(unit, name)
    sess.flush()
    return unit


def load_units(path: Path) -> int:
    """Load units from a seed CSV (seed/units.csv, seed/counties.csv); a unit
    that exists already is left as it is. Returns how many were created.

    Works from one in-memory map of the names already known, so loading the
    province's directory is a handful of statements, not one per alias."""
    sess = session()
    owner_of: dict[str, Unit] = {
        alias.alias: alias.unit
        for alias in sess.scalars(select(UnitAlias).options(selectinload(UnitAlias.unit)))
    }
    created = 0
    for order, seed in enumerate(load_unit_seeds(path), start=1):
        unit = owner_of.get(normalise_unit_name(seed.canonical_name))
        if unit is None:
            parent = owner_of.get(normalise_unit_name(seed.parent)) if seed.parent else None
            unit = Unit(
                canonical_name=seed.canonical_name,
                short_name=seed.short_name,
                kind=UnitKind(seed.kind),
                parent=parent,
                sort_order=order,
            )
            sess.add(unit)
            created += 1
        for name in (seed.canonical_name, seed.short_name, *seed.aliases):
            key = normalise_unit_name(name)
            if key and key not in owner_of:
                unit.aliases.append(UnitAlias(alias=key))
                owner_of[key] = unit
    sess.flush()
    return created


def city_governments() -> list[Unit]:
    return list(
        session().scalars(
            select(Unit).where(Unit.kind == UnitKind.CITY_GOVERNMENT, Unit.is_active).order_by(Unit.sort_order)
        )
    )


def county_governments(city: Unit) -> list[Unit]:
    return list(
        session().scalars(
            select(Unit)
            .where(Unit.parent_id == city.id, Unit.kind == UnitKind.COUNTY_GOVERNMENT, Unit.is_active)
            .order_by(Unit.sort_order)
        )
    )
