"""ItemBatcher against the moto server: the same answers as GetItem, in fewer calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.common.aws import aio_session, client_config
from services.common.item_batcher import ItemBatcher
from services.common.resources import physical_name


@pytest.fixture
async def orders_table(aws_prefix: str) -> AsyncIterator[tuple[Any, Any, str]]:
    async with aio_session().resource("dynamodb", config=client_config()) as dynamodb:
        name = physical_name(aws_prefix, "orders")
        table = await dynamodb.Table(name)
        async with table.batch_writer() as writer:
            for i in range(150):
                await writer.put_item(
                    Item={"pk": f"ORDER#{i}", "sk": "ORDER", "account": f"a{i % 3}", "qty": "1.5"}
                )
        yield dynamodb, table, name


def _key(i: int | str) -> dict[str, str]:
    return {"pk": f"ORDER#{i}", "sk": "ORDER"}


async def test_answers_equal_get_item_for_present_and_missing_keys(orders_table: Any) -> None:
    dynamodb, table, name = orders_table
    batcher = ItemBatcher(dynamodb, name)
    for key in (_key(7), _key("missing")):
        expected = (await table.get_item(Key=key)).get("Item")
        assert await batcher.get(key) == expected
    assert (await batcher.get(_key(7)))["account"] == "a1"  # type: ignore[index]


async def test_concurrent_reads_share_calls(orders_table: Any) -> None:
    dynamodb, _, name = orders_table
    batcher = ItemBatcher(dynamodb, name, max_in_flight=2)
    keys = [_key(i) for i in range(140)] + [_key("nope"), _key(3), _key(3)]
    items = await asyncio.gather(*(batcher.get(k) for k in keys))
    assert [item["pk"] if item else None for item in items] == [
        *(f"ORDER#{i}" for i in range(140)),
        None,
        "ORDER#3",
        "ORDER#3",
    ]
    # the first two reads go alone; the 141 others wait and go in calls of at most 100 keys
    assert batcher.reads == 143
    assert batcher.calls == 4


class _Throttling:
    """A resource whose first BatchGetItem leaves some keys unprocessed, as DynamoDB may."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[int] = []
        self.throttled = False

    async def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((name, request),) = RequestItems.items()
        keys = request["Keys"]
        self.calls.append(len(keys))
        if not self.throttled and len(keys) > 1:
            self.throttled = True
            done, later = keys[: len(keys) // 2], keys[len(keys) // 2 :]
            response = await self.real.batch_get_item(RequestItems={name: {"Keys": done}})
            response["UnprocessedKeys"] = {name: {"Keys": later}}
            return dict(response)
        return dict(await self.real.batch_get_item(RequestItems=RequestItems))


async def test_unprocessed_keys_are_read_again(orders_table: Any) -> None:
    dynamodb, _, name = orders_table
    throttling = _Throttling(dynamodb)
    batcher = ItemBatcher(throttling, name, max_in_flight=1)
    blocker = asyncio.create_task(batcher.get(_key(0)))  # occupies the one call slot
    await asyncio.sleep(0)
    items = await asyncio.gather(*(batcher.get(_key(i)) for i in range(1, 11)))
    await blocker
    assert [item["pk"] for item in items if item] == [f"ORDER#{i}" for i in range(1, 11)]
    assert throttling.calls[0] == 1 and sum(throttling.calls[1:]) == 10 + 5


async def test_a_failed_call_fails_its_reads_and_the_next_call_works(orders_table: Any) -> None:
    dynamodb, _, name = orders_table
    broken = ItemBatcher(dynamodb, name + "-absent")
    with pytest.raises(Exception, match=r"ResourceNotFound|not found|Requested resource"):
        await broken.get(_key(1))
    batcher = ItemBatcher(dynamodb, name)
    assert (await batcher.get(_key(1))) is not None
