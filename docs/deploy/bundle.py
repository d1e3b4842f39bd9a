"""Build the offline bundle: dist/supervise-<version>-<date>.tar.gz.

    python docs/deploy/bundle.py [--output dist] [--date YYYYMMDD]

(`make bundle` runs it.) The archive holds one folder, supervise-<version>-<date>/:

    app/              the application as it runs: supervise/, templates/, static/ (the
                      vendored assets), migrations/, seed/, config.py, wsgi.py, docs/ …
    wheels/           a wheel of every package in requirements.lock, for CPython 3.11
                      on x86_64 Linux (manylinux, glibc 2.28 or newer)
    requirements.lock the pins and SHA-256 the installer checks each wheel against
    install.sh        creates the virtual environment from wheels/ only (--no-index)
    MANIFEST.sha256   the SHA-256 of every other file (`sha256sum -c` format)
    VERSION

Wheels come from the package index through `pip download`, checked against
the lock's hashes, into dist/wheels/ (kept between builds: a later build
downloads only what the lock has changed); only wheels, never an sdist built
here, so that what is installed is byte for byte what the lock names.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# What the application needs at run time (and its docs); tests, bench and
# tooling stay out.
APP_ITEMS = ["supervise", "templates", "static", "migrations", "seed", "docs",
             "config.py", "wsgi.py", "pyproject.toml", "README.md", "requirements.lock"]
SKIP_NAMES = {"__pycache__", ".pytest_cache", "instance", ".DS_Store"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
# manylinux tags a glibc-2.28 machine (RHEL 8, Kylin V10, UOS 20 and newer) runs.
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
             "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_12_x86_64",
             "manylinux2010_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"]


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def copy_app(target: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP_NAMES or Path(n).suffix in SKIP_SUFFIXES}

    target.mkdir(parents=True)
    for item in APP_ITEMS:
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, target / item, ignore=ignore)
        else:
            shutil.copy2(source, target / item)


def locked_hashes(lock: Path) -> dict[str, set[str]]:
    """name==version -> the SHA-256 the lock allows for it."""
    entries: dict[str, set[str]] = {}
    text = re.sub(r"\\\n\s*", " ", lock.read_text(encoding="utf-8"))
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            spec, *options = line.split(" --")
            entries[spec.strip()] = {o.removeprefix("hash=sha256:").strip() for o in options if o.startswith("hash=")}
    return entries


def matching_wheels(lock: Path, cache: Path) -> dict[str, Path] | None:
    """The cached wheel of every locked package, or None if one is missing."""
    by_hash = {sha256(p): p for p in cache.glob("*.whl")} if cache.is_dir() else {}
    chosen = {}
    for pin, hashes in locked_hashes(lock).items():
        found = sorted(by_hash[h] for h in hashes if h in by_hash)
        if not found:
            return None
        chosen[pin] = found[0]
    return chosen


def download_wheels(lock: Path, target: Path, cache: Path) -> None:
    """Copy into target a wheel of every locked package, downloading into
    the cache (checked against the lock's hashes) only what it lacks."""
    wheels = matching_wheels(lock, cache)
    if wheels is None:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
                   "--only-binary", ":all:", "--implementation", "cp", "--python-version", "3.11",
                   "--abi", "cp311", "--dest", str(cache), "-r", str(lock)]
        for platform in PLATFORMS:
            command += ["--platform", platform]
        subprocess.run(command, check=True)
        wheels = matching_wheels(lock, cache)
        if wheels is None:
            raise SystemExit("a locked package has no wheel for CPython 3.11 on x86_64 Linux")
    target.mkdir(parents=True)
    for wheel in wheels.values():
        shutil.copy2(wheel, target / wheel.name)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path) -> Path:
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if relative != "MANIFEST.sha256":
            lines.append(f"{sha256(path)}  {relative}\n")
    manifest = folder / "MANIFEST.sha256"
    manifest.write_text("".join(lines), encoding="utf-8")
    return manifest


def build(output: Path, date: str, cache: Path) -> Path:
    name = f"supervise-{version()}-{date}"
    output.mkdir(parents=True, exist_ok=True)
    archive = output / f"{name}.tar.gz"
    with tempfile.TemporaryDirectory(prefix="supervise-bundle-") as tmp:
        folder = Path(tmp) / name
        copy_app(folder / "app")
        download_wheels(ROOT / "requirements.lock", folder / "wheels", cache)
        shutil.copy2(ROOT / "requirements.lock", folder / "requirements.lock")
        shutil.copy2(HERE / "install.sh", folder / "install.sh")
        os.chmod(folder / "install.sh", 0o755)
        (folder / "VERSION").write_text(f"{name}\n", encoding="utf-8")
        write_manifest(folder)
        partial = archive.with_suffix(".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(folder, arcname=name)
        partial.replace(archive)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "dist")
    parser.add_argument("--date", default=dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d"),
                        help="the date in the name (default: today, UTC)")
    parser.add_argument("--wheel-cache", type=Path, default=ROOT / "dist" / "wheels",
                        help="wheels kept between builds (default: dist/wheels)")
    args = parser.parse_args(argv)
    archive = build(args.output, args.date, args.wheel_cache)
    print(f"{archive}  ({archive.stat().st_size / 1e6:.1f} MB, sha256 {sha256(archive)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
