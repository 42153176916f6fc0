"""What the projector writes for each message: DynamoDB items, coalesced per key. No I/O here.

Every accounts-stream message carries a deterministic id and a monotone counter for its key (an
order's `version`, a balance's ledger `seq`), so the projection keeps only the newest item per key
within a batch and skips items older than what it already wrote. Immutable items (ledger entries,
fills, trades, transfer outcomes) are simply put again when a message is seen twice.
Key layout: see `services/orders/queries.py`.

Ledger entries are packed: one item per account, asset and batch, holding the batch's entries of
that balance in seq order (`entries`, JSON text; `first_seq`, `last_seq`; sk = first seq). An
order moves a balance about six times (hold, trade, fee, release, the fee credit), so one item per
entry was two thirds of all the items the projector wrote. A replay after a restart may pack the
same entries into other items (overlapping ones, or one with the same first seq but fewer
entries, whose missing tail the replay writes in its next batch): readers take every entry once
by seq (`ledger_entries`).

Orders and trades items are packed too: the attributes that keys, indexes and filters use stay
top-level, every other field goes into one JSON attribute (`doc`). Each attribute costs the
client's request serializer and DynamoDB's item handling; an order item had ~27 of them. Readers
take fields through `unpack`, which also reads items written before packing.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from typing import Any

import orjson

TABLES = ("orders", "trades", "balances", "ledger")
_MAX_REMEMBERED = 200_000
LEDGER_ENTRIES_PER_ITEM = 400
"""About 100 KB of entries: well under DynamoDB's 400 KB item size."""
_ENTRY_FIELDS = (
    "seq",
    "id",
    "available_delta",
    "held_delta",
    "available",
    "held",
    "cause",
    "ref",
    "ts",
)

PACKED = "doc"
"""The attribute holding an orders or trades item's other fields, as JSON text."""
TOP_LEVEL = {
    "orders": frozenset({"pk", "sk", "account", "created", "status", "symbol", "projected_at"}),
    "trades": frozenset({"pk", "sk", "symbol", "projected_at"}),
}
"""Per packed table, the attributes kept top-level: keys, GSI keys, query filters, freshness."""


def pack(table: str, item: dict[str, Any]) -> dict[str, Any]:
    """The item as written: for orders and trades, its non-key fields in one JSON attribute."""
    keep = TOP_LEVEL.get(table)
    if keep is None:
        return item
    top = {name: value for name, value in item.items() if name in keep}
    rest = {name: value for name, value in item.items() if name not in keep}
    if rest:
        top[PACKED] = orjson.dumps(rest).decode()
    return top


def unpack(item: dict[str, Any]) -> dict[str, Any]:
    """An item's fields, packed ones included (an item without `doc` is returned as it is)."""
    doc = item.get(PACKED)
    if doc is None:
        return item
    fields: dict[str, Any] = orjson.loads(str(doc))
    fields.update((name, value) for name, value in item.items() if name != PACKED)
    return fields


class Projection:
    """Turns `accounts` and `executions` messages into pending puts, table by table."""

    def __init__(self) -> None:
        self.pending: dict[str, dict[tuple[str, str], dict[str, Any]]] = {t: {} for t in TABLES}
        # (table, pk, sk) -> newest version written or pending, bounded (oldest forgotten first)
        self._versions: OrderedDict[tuple[str, str, str], int] = OrderedDict()
        # (account, asset) -> seq -> entry: the ledger entries of this batch, packed in take()
        self._entries: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        self._entry_count = 0
        self.messages = 0

    def __len__(self) -> int:
        return sum(len(items) for items in self.pending.values()) + self._entry_count

    def take(self, projected_at: int) -> dict[str, list[dict[str, Any]]]:
        """The pending items per table (stamped with `projected_at`), leaving nothing pending."""
        batch = {}
        for table, items in self.pending.items():
            if items:
                batch[table] = [
                    pack(table, {**item, "projected_at": projected_at}) for item in items.values()
                ]
        packed = [
            item
            for (account, asset), by_seq in self._entries.items()
            for item in _packed_ledger(account, asset, by_seq, projected_at)
        ]
        if packed:
            batch.setdefault("ledger", []).extend(packed)
        self.pending = {t: {} for t in TABLES}
        self._entries = {}
        self._entry_count = 0
        return batch

    # -- input -----------------------------------------------------------------------------------

    def apply_accounts(self, message: dict[str, Any]) -> None:
        """One message of the accounts engine's output stream."""
        self.messages += 1
        kind = message.get("kind")
        if kind == "order":
            self._order(message["order"])
        elif kind == "ledger":
            self._ledger(message)
        elif kind == "fill":
            self._fill(message)
        elif kind == "transfer":
            self._put(
                "ledger",
                {
                    "pk": f"TRANSFER#{message['transfer_id']}",
                    "sk": "TRANSFER",
                    "account": message["account"],
                    "direction": message["direction"],
                    "asset": message.get("asset"),
                    "amount": message.get("amount"),
                    "status": message["status"],
                    "reason": message.get("reason"),
                    "ts": message.get("ts"),
                },
            )

    def apply_execution(self, event: dict[str, Any]) -> None:
        """One matching engine event: trades go on the public tape of their symbol."""
        self.messages += 1
        if event.get("type") != "trade":
            return
        self._put(
            "trades",
            {
                "pk": f"SYMBOL#{event['symbol']}",
                "sk": f"{event['seq']:020d}",
                "id": event["id"],
                "symbol": event["symbol"],
                "price": event["price"],
                "qty": event["qty"],
                "taker_side": event["taker_side"],
                "ts": event.get("ts"),
            },
        )

    # -- items -----------------------------------------------------------------------------------

    def _order(self, order: dict[str, Any]) -> None:
        created = order.get("created") or 0
        item = {
            "pk": f"ORDER#{order['id']}",
            "sk": "ORDER",
            **{k: v for k, v in order.items() if k != "created"},
            "created": f"{created:013d}",
            "created_ms": created,
        }
        self._put("orders", item, version=int(order.get("version") or 0))

    def _ledger(self, entry: dict[str, Any]) -> None:
        account, asset, seq = entry["account"], entry["asset"], int(entry["seq"])
        by_seq = self._entries.setdefault((account, asset), {})
        if seq not in by_seq:
            self._entry_count += 1
        by_seq[seq] = {
            "seq": seq,
            "id": entry["id"],
            "available_delta": entry["available_delta"],
            "held_delta": entry["held_delta"],
            "available": entry["available"],
            "held": entry["held"],
            "cause": entry["cause"],
            "ref": entry.get("ref"),
            "ts": entry.get("ts"),
        }
        self._put(
            "balances",
            {
                "pk": f"ACCOUNT#{account}",
                "sk": asset,
                "account": account,
                "available": entry["available"],
                "held": entry["held"],
                "seq": seq,
                "updated": entry.get("ts"),
            },
            version=seq,
        )

    def _fill(self, fill: dict[str, Any]) -> None:
        ts = fill.get("ts") or 0
        self._put(
            "trades",
            {
                "pk": f"ACCOUNT#{fill['account']}",
                "sk": f"{ts:013d}#{fill['trade_id']}#{fill['liquidity']}",
                **{k: v for k, v in fill.items() if k != "kind"},
            },
        )

    def _put(self, table: str, item: dict[str, Any], version: int | None = None) -> None:
        key = (item["pk"], item["sk"])
        if version is not None:
            remembered = (table, *key)
            if self._versions.get(remembered, -1) >= version:
                return  # an older (or the same) state of this item; never go backwards
            self._versions[remembered] = version
            self._versions.move_to_end(remembered)
            if len(self._versions) > _MAX_REMEMBERED:
                self._versions.popitem(last=False)
        self.pending[table][key] = item


def _packed_ledger(
    account: str, asset: str, by_seq: dict[int, dict[str, Any]], projected_at: int
) -> Iterable[dict[str, Any]]:
    seqs = sorted(by_seq)
    for start in range(0, len(seqs), LEDGER_ENTRIES_PER_ITEM):
        chunk = seqs[start : start + LEDGER_ENTRIES_PER_ITEM]
        yield {
            "pk": f"ACCOUNT#{account}#{asset}",
            "sk": f"{chunk[0]:012d}",
            "account": account,
            "asset": asset,
            "first_seq": chunk[0],
            "last_seq": chunk[-1],
            "entries": orjson.dumps([by_seq[seq] for seq in chunk]).decode(),
            "projected_at": projected_at,
        }


def ledger_entries(items: Iterable[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every ledger entry in ledger-table items, once each, in seq order, per (account, asset):
    packed items (`entries`) and items of a single entry (`seq`, the layout before packing)
    alike. `TRANSFER#` items are not entries and are left out."""
    found: dict[tuple[str, str], dict[int, dict[str, Any]]] = defaultdict(dict)
    for item in items:
        if not str(item["pk"]).startswith("ACCOUNT#"):
            continue
        key = (str(item["account"]), str(item["asset"]))
        if "entries" in item:
            for entry in orjson.loads(str(item["entries"])):
                found[key].setdefault(int(entry["seq"]), entry)
        else:
            found[key].setdefault(int(item["seq"]), {f: item.get(f) for f in _ENTRY_FIELDS})
    return {key: [by_seq[seq] for seq in sorted(by_seq)] for key, by_seq in found.items()}
