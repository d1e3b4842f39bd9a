"""Common passwords, refused by the password policy.

The list is zxcvbn's (the 30,000 most frequent passwords of large leaked
sets, maintained with that estimator; shipped by the `zxcvbn` package), plus
`supervise/data/common_passwords_zh.txt` for the Chinese-system defaults and
patterns that list misses. A password is refused when, lower-cased, it is
on the list, or it is once the usual look-alike substitutions (@ for a,
0 for o ...) are undone: "P@ssw0rd" is "password".
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

SUPPLEMENT = Path(__file__).resolve().parent.parent / "data" / "common_passwords_zh.txt"
_LOOK_ALIKES = str.maketrans({"@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", "$": "s", "5": "s", "7": "t"})


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    words = set(FREQUENCY_LISTS["passwords"])
    for line in SUPPLEMENT.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            words.add(line.lower())
    return frozenset(words)


def is_common_password(password: str) -> bool:
    lowered = (password or "").lower()
    words = common_passwords()
    return lowered in words or lowered.translate(_LOOK_ALIKES) in words
