"""The one set of test users: who they are (role, unit, login, contact) is
written here once; the `people` fixture (tests/conftest.py) makes each one
on first use, or a chosen few at once (`people.create(...)`), through the
same service as real accounts.

Around task 1 of the 27号 plan (lead 省经信厅; co-units 杭州市 and 省科技厅
among others) and task 1 of the small reminder plan (lead 省经信厅, co-unit
杭州市)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    role: str
    unit: str
    login: str
    email: str | None = None
    phone: str | None = None


ROSTER: dict[str, Person] = {
    "coordinator": Person("coordinator", "省商务厅", "coord", "coord@example.gov.cn"),
    "coordinator2": Person("coordinator", "省商务厅", "coord2"),
    "leader": Person("leader", "省商务厅", "boss"),
    "admin": Person("admin", "省商务厅", "root"),
    "auditor": Person("auditor", "省商务厅", "audit"),
    "lead": Person("liaison", "省经信厅", "lead_liaison", "lead@example.gov.cn", "13800000001"),
    "lead_leader": Person("leader", "省经信厅", "jxt_leader"),
    "co": Person("liaison", "杭州市人民政府", "hz_liaison", "hz@example.gov.cn", "13800000002"),
    "co_leader": Person("leader", "杭州市人民政府", "hz_leader", "hzleader@example.gov.cn"),
    "co_dept": Person("liaison", "省科技厅", "kjt_liaison"),  # a provincial department among task 1's co-units
    "outsider": Person("liaison", "省教育厅", "outsider"),  # no unit of task 1
}


class People:
    """The roster's users of one test, made when first asked for."""

    def __init__(self, make_user):
        self._make_user = make_user
        self._made: dict = {}

    def __getattr__(self, key: str):
        if key.startswith("_") or key not in ROSTER:
            raise AttributeError(key)
        if key not in self._made:
            p = ROSTER[key]
            self._made[key] = self._make_user(p.role, unit=p.unit, login=p.login, email=p.email, phone=p.phone)
        return self._made[key]

    def create(self, *keys: str) -> "People":
        for key in keys:
            getattr(self, key)
        return self
