"""The projector's pure part and the audit's checks, without AWS."""

from __future__ import annotations

from services.orders.audit import check_tables
from services.orders.projection import PACKED, Projection, ledger_entries, unpack
from tests.orders.venue import MemoryVenue


def project(venue: MemoryVenue) -> dict[str, list[dict]]:
    projection = Projection()
    for message in venue.published:
        projection.apply_accounts(message)
    for event in venue.executions:
        projection.apply_execution(event)
    return projection.take(projected_at=1)


def trade_scenario() -> MemoryVenue:
    venue = MemoryVenue()
    venue.deposit("alice", "USD", "10000")
    venue.deposit("bob", "BTC", "5")
    venue.order("bob", "BTC-USD", "sell", price="100.00", qty="2")
    venue.order("alice", "BTC-USD", "buy", price="100.00", qty="1")
    venue.order("alice", "BTC-USD", "buy", price="100.00", qty="0.5", tif="IOC")
    venue.withdraw("alice", "USD", "10")
    return venue


def test_projection_coalesces_to_the_newest_state_of_each_item() -> None:
    batch = project(trade_scenario())
    orders = {item["id"]: item for item in map(unpack, batch["orders"])}
    assert len(orders) == len(batch["orders"]) == 3
    assert sorted(o["status"] for o in orders.values()) == ["filled", "filled", "partially_filled"]
    balances = {(b["account"], b["sk"]): (b["available"], b["held"]) for b in batch["balances"]}
    assert balances[("alice", "USD")] == ("9839.70000000", "0.00000000")
    assert balances[("bob", "BTC")] == ("3.00000000", "0.50000000")
    assert balances[("fees", "USD")] == ("0.45000000", "0.00000000")
    assert all(item["projected_at"] == 1 for items in batch.values() for item in items)
    public = [t for t in batch["trades"] if t["pk"] == "SYMBOL#BTC-USD"]
    own = [t for t in batch["trades"] if t["pk"].startswith("ACCOUNT#")]
    assert len(public) == 2 and len(own) == 4


def test_projection_never_goes_back_to_an_older_state() -> None:
    venue = trade_scenario()
    projection = Projection()
    for message in venue.published:
        projection.apply_accounts(message)
    first = projection.take(projected_at=1)
    for message in venue.published:  # a replay of the whole stream after a restart
        projection.apply_accounts(message)
    again = projection.take(projected_at=2)
    assert not again.get("orders") and not again.get("balances")
    assert len(again["ledger"]) == len(first["ledger"])  # immutable items are simply put again


def test_audit_passes_on_a_consistent_projection_and_names_violations() -> None:
    batch = project(trade_scenario())
    report = check_tables(batch["orders"], batch["trades"], batch["balances"], batch["ledger"])
    assert report.ok, [c.problems for c in report.checks]
    assert report.totals["USD"] == {
        "balances": 999 * 10**9,
        "deposits": 10**12,
        "withdrawals": 10**9,
    }

    tampered = [dict(b) for b in batch["balances"]]
    # (orders items are packed: a top-level attribute, as tampered below, wins over `doc`)
    for item in tampered:
        if (item["account"], item["sk"]) == ("alice", "USD"):
            item["available"] = "9840.70000000"
    orders = [dict(o) for o in batch["orders"]]
    orders[0]["filled"] = "9.0000"
    report = check_tables(orders, batch["trades"], tampered, batch["ledger"])
    failed = {c.name for c in report.checks if not c.ok}
    assert failed == {
        "per asset: balances = deposits - withdrawals",
        "filled quantities = sum of fills",
        "ledger replays to the balances",
    }
    negative = [dict(b) for b in batch["balances"]] + [
        {
            "pk": "ACCOUNT#mallory",
            "sk": "USD",
            "account": "mallory",
            "available": "-1.00000000",
            "held": "0",
        }
    ]
    report = check_tables(batch["orders"], batch["trades"], negative, batch["ledger"])
    assert not next(c for c in report.checks if c.name == "no negative balance").ok


def test_ledger_entries_are_packed_per_balance_and_read_back_once_each() -> None:
    venue = trade_scenario()
    batch = project(venue)
    packed = [item for item in batch["ledger"] if item["pk"].startswith("ACCOUNT#")]
    assert len(packed) == len({(i["account"], i["asset"]) for i in packed})  # one per balance
    entries = ledger_entries(batch["ledger"])
    sent = [m for m in venue.published if m.get("kind") == "ledger"]
    assert sum(len(e) for e in entries.values()) == len(sent)
    for (account, asset), listed in entries.items():
        assert [e["seq"] for e in listed] == list(range(1, len(listed) + 1)), (account, asset)

    # A restart replays part of the stream and packs it differently: the table (later puts
    # replace items of the same key) still holds every entry, each read back once.
    table = {(i["pk"], i["sk"]): i for i in batch["ledger"]}
    messages = list(venue.published)
    for cut in (3, len(messages) // 2):
        replay = Projection()
        for message in messages[:cut]:
            replay.apply_accounts(message)
        first = replay.take(projected_at=2)
        for message in messages[cut:]:
            replay.apply_accounts(message)
        for part in (first, replay.take(projected_at=3)):
            table.update({(i["pk"], i["sk"]): i for i in part.get("ledger", [])})
        assert ledger_entries(table.values()) == entries
    report = check_tables(batch["orders"], batch["trades"], batch["balances"], list(table.values()))
    assert report.ok, [c.problems for c in report.checks]


def test_ledger_items_of_one_entry_each_still_read() -> None:
    """The layout before packing: one item per entry (`seq` and the entry's fields)."""
    entries = ledger_entries(project(trade_scenario())["ledger"])
    legacy = [
        {
            "pk": f"ACCOUNT#{account}#{asset}",
            "sk": f"{e['seq']:012d}",
            "account": account,
            "asset": asset,
            **e,
        }
        for (account, asset), listed in entries.items()
        for e in listed
    ]
    assert ledger_entries(legacy) == entries


def test_orders_and_trades_items_are_packed_and_unpack_to_every_field() -> None:
    venue = trade_scenario()
    projection = Projection()
    for message in venue.published:
        projection.apply_accounts(message)
    for event in venue.executions:
        projection.apply_execution(event)
    unpacked = {t: [dict(i) for i in items.values()] for t, items in projection.pending.items()}
    batch = projection.take(projected_at=5)
    for table in ("orders", "trades"):
        assert all(PACKED in item for item in batch[table])
        assert all(len(item) <= 8 for item in batch[table])
        expected = sorted(
            (dict(i, projected_at=5) for i in unpacked[table]), key=lambda i: (i["pk"], i["sk"])
        )
        got = sorted(map(unpack, batch[table]), key=lambda i: (i["pk"], i["sk"]))
        assert got == expected
    order = next(iter(batch["orders"]))
    assert {"pk", "sk", "account", "created", "status", "symbol"} <= set(order)
    legacy = {"pk": "ORDER#x", "sk": "ORDER", "status": "open"}  # written before packing
    assert unpack(legacy) is legacy
