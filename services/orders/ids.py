"""Order and transfer ids: ULIDs (26 Crockford base32 characters: 48-bit ms time + 80 random bits).

Unique without coordination between API replicas, and sortable by creation time, so an id alone
says roughly when it was made (used to tell "not projected yet" from "never existed").
"""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}


def new_id(now_ms: int | None = None) -> str:
    """A new ULID for the current (or given) time in ms."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def id_time_ms(identifier: str) -> int | None:
    """The creation time (ms) of a ULID, or None if `identifier` is not one."""
    if len(identifier) != 26 or any(c not in _INDEX for c in identifier):
        return None
    value = 0
    for c in identifier[:10]:
        value = value * 32 + _INDEX[c]
    return value
