"""The locks (requirements.lock, requirements-test.lock) agree with
pyproject.toml: every direct dependency pinned at the same version, every
package the direct ones need (by the metadata of the installed packages)
locked, nothing locked that nothing needs, and a hash on every line.

When this fails after a change to pyproject.toml: run `make lock` and commit
both locks."""
from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
FIX = "run `make lock` and commit requirements.lock and requirements-test.lock"
# The lock is made for this interpreter and platform (Makefile: UV_COMPILE).
ENVIRONMENT = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
               "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
               "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def parse_lock(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a pip-compile/uv style lock file."""
    entries: dict[str, tuple[str, list[str]]] = {}
    text = re.sub(r"\\\n\s*", " ", path.read_text(encoding="utf-8"))
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, *options = line.split(" --")
        name, _, version = spec.strip().partition("==")
        assert version, f"{path.name}: not pinned with ==: {line[:80]}"
        hashes = [o.removeprefix("hash=").strip() for o in options if o.startswith("hash=")]
        entries[canonicalize_name(name)] = (version.strip(), hashes)
    return entries


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def direct(requirements: list[str]) -> list[Requirement]:
    return [Requirement(r) for r in requirements]


def closure(roots: list[Requirement]) -> set[str]:
    """Every package needed by the roots, walking the installed packages'
    own requirements (with their extras and markers for Linux/CPython 3.11)."""
    needed: set[str] = set()
    todo = [(r, set(r.extras)) for r in roots]
    seen: set[tuple[str, frozenset]] = set()
    while todo:
        req, extras = todo.pop()
        name = canonicalize_name(req.name)
        if (name, frozenset(extras)) in seen:
            continue
        seen.add((name, frozenset(extras)))
        needed.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} is not installed in this environment: run `make install`")
        for raw in dist.requires or []:
            sub = Requirement(raw)
            if sub.marker is not None:
                wanted = any(sub.marker.evaluate({**ENVIRONMENT, "extra": e}) for e in (extras or {""}))
                if not wanted:
                    continue
            todo.append((sub, set(sub.extras)))
    return needed


@pytest.fixture(scope="module")
def locks():
    return {"main": parse_lock(ROOT / "requirements.lock"), "test": parse_lock(ROOT / "requirements-test.lock")}


def test_every_direct_dependency_is_pinned_and_locked_at_that_version(locks):
    proj = project()
    groups = {"main": direct(proj["dependencies"]),
              "test": direct(proj["dependencies"] + proj["optional-dependencies"]["test"])}
    problems = []
    for group, requirements in groups.items():
        for req in requirements:
            pins = [s.version for s in req.specifier if s.operator == "=="]
            if len(pins) != 1:
                problems.append(f"pyproject.toml: {req} is not pinned with ==")
                continue
            locked = locks[group].get(canonicalize_name(req.name))
            lock_name = "requirements.lock" if group == "main" else "requirements-test.lock"
            if locked is None:
                problems.append(f"{req.name}=={pins[0]} is in pyproject.toml but not in {lock_name}")
            elif locked[0] != pins[0]:
                problems.append(f"{req.name}: pyproject.toml says {pins[0]}, {lock_name} {locked[0]}")
    assert not problems, "\n".join(problems + [FIX])


def test_every_line_of_the_locks_has_a_sha256(locks):
    for group, entries in locks.items():
        for name, (version, hashes) in entries.items():
            assert hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), (group, name, hashes)


def test_the_test_lock_pins_the_production_packages_alike(locks):
    differ = {n: (v, locks["test"][n][0]) for n, (v, _) in locks["main"].items()
              if n in locks["test"] and locks["test"][n][0] != v}
    missing = set(locks["main"]) - set(locks["test"])
    assert not differ and not missing, (differ, missing, FIX)


@pytest.mark.parametrize("group", ["main", "test"])
def test_the_locks_hold_exactly_what_the_dependencies_need(locks, group):
    proj = project()
    roots = direct(proj["dependencies"] + (proj["optional-dependencies"]["test"] if group == "test" else []))
    needed = closure(roots)
    locked = set(locks[group])
    # The walk reads the installed packages' metadata: it must be the locked versions'.
    stale = sorted(n for n in needed & locked if metadata.version(n) != locks[group][n][0])
    assert not stale, f"installed versions differ from the lock for {stale}: run `make install`"
    assert needed <= locked, f"needed but not locked: {sorted(needed - locked)}; {FIX}"
    assert locked <= needed, f"locked but needed by nothing: {sorted(locked - needed)}; {FIX}"
