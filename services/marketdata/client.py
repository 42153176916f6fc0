"""A client-side L2 book that follows `book:<SYMBOL>` messages and detects gaps.

Used by the tests and `tradestack bench marketdata`, and the reference for docs/marketdata.md's
sync procedure: start from a snapshot (WebSocket or REST), apply each diff whose range continues
the book, skip diffs the snapshot already covers, and resync on a gap.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


class SequenceGap(Exception):
    """A diff does not continue the local book: some events were missed; resync."""

    def __init__(self, expected: int, first_seq: int) -> None:
        super().__init__(
            f"expected a diff starting at seq {expected}, got one starting at {first_seq}"
        )
        self.expected = expected
        self.first_seq = first_seq


class BookFollower:
    """The local copy of one symbol's book; `seq` is None until a snapshot arrives."""

    def __init__(self) -> None:
        self.seq: int | None = None
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}

    def on_message(self, message: dict[str, Any]) -> bool:
        """Apply a snapshot or diff; returns False for a diff already covered (skipped).
        Raises `SequenceGap` when a diff starts after `seq + 1`."""
        if message["type"] == "snapshot":
            self.seq = message["seq"]
            self.bids = {price: qty for price, qty in message["bids"]}
            self.asks = {price: qty for price, qty in message["asks"]}
            return True
        if self.seq is None:
            return False  # diffs before the snapshot are buffered or dropped by the caller
        first, last = message["first_seq"], message["last_seq"]
        if last <= self.seq:
            return False
        if first > self.seq + 1:
            raise SequenceGap(self.seq + 1, first)
        # Levels carry new totals, so a diff that overlaps the snapshot applies cleanly too.
        for levels, side in ((message["bids"], self.bids), (message["asks"], self.asks)):
            for price, qty in levels:
                if Decimal(qty) == 0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.seq = last
        return True

    def levels(self) -> tuple[list[list[str]], list[list[str]]]:
        """(bids, asks) best first, as `[price, qty]`."""
        bids = sorted(self.bids.items(), key=lambda item: Decimal(item[0]), reverse=True)
        asks = sorted(self.asks.items(), key=lambda item: Decimal(item[0]))
        return [list(level) for level in bids], [list(level) for level in asks]
