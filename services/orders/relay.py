"""The settlement relay (port 8006): consumes `executions` (by symbol) and puts every event that
concerns an account on `orders` (by account), trades once per side. Stateless, so its snapshot is
empty; as a shard worker it still checkpoints only after publishing (nothing is lost)."""

from __future__ import annotations

from typing import Any

from services.common.logging import configure_logging
from services.common.streams import ConsumerGroup, RecordPosition
from services.orders.settings import OrdersSettings
from services.orders.settlement import Output, settlement_messages
from services.orders.worker_app import consumer_app

GROUP = "settlement-relay"
INPUT_STREAM = "executions"


class RelayMachine:
    def apply(self, message: dict[str, Any], position: RecordPosition) -> list[Output]:
        return settlement_messages(message)

    def snapshot(self) -> bytes:
        return b""


class RelayFactory:
    def initial(self) -> RelayMachine:
        return RelayMachine()

    def restore(self, data: bytes) -> RelayMachine:
        return RelayMachine()


def build_consumer_group(settings: OrdersSettings) -> ConsumerGroup:
    return ConsumerGroup(
        group=GROUP,
        stream=INPUT_STREAM,
        factory=RelayFactory(),
        prefix=settings.resource_prefix,
        config=settings.runtime_config(),
    )


settings = OrdersSettings(service_name="relay")
configure_logging(settings.service_name, settings.log_level, settings.log_format)
app = consumer_app(settings, build_consumer_group(settings), title="Tradestack settlement relay")
