"""The accounts engine on Kinesis (port 8005): consumes `orders` (by account) and publishes to
`matching` (by symbol), `accounts` (by account) and fee credits back to `orders` (key `fees`)."""

from __future__ import annotations

from typing import Any

from services.common.logging import configure_logging
from services.common.metrics import ERRORS
from services.common.streams import ConsumerGroup, RecordPosition
from services.orders.accounts import AccountsEngine, Output
from services.orders.settings import OrdersSettings
from services.orders.worker_app import consumer_app

GROUP = "accounts"
INPUT_STREAM = "orders"


class AccountsMachine:
    """The runtime's `StateMachine` for one shard of the `orders` stream."""

    def __init__(self, engine: AccountsEngine) -> None:
        self.engine = engine

    def apply(self, message: dict[str, Any], position: RecordPosition) -> list[Output]:
        ignored = self.engine.ignored
        outputs = self.engine.apply(message)
        if self.engine.ignored != ignored:
            ERRORS.labels("accounts_input_ignored").inc()
        return outputs

    def snapshot(self) -> bytes:
        return self.engine.snapshot()


class AccountsFactory:
    def initial(self) -> AccountsMachine:
        return AccountsMachine(AccountsEngine())

    def restore(self, data: bytes) -> AccountsMachine:
        return AccountsMachine(AccountsEngine.restore(data))


def build_consumer_group(settings: OrdersSettings) -> ConsumerGroup:
    return ConsumerGroup(
        group=GROUP,
        stream=INPUT_STREAM,
        factory=AccountsFactory(),
        prefix=settings.resource_prefix,
        config=settings.runtime_config(),
    )


settings = OrdersSettings(service_name="accounts")
configure_logging(settings.service_name, settings.log_level, settings.log_format)
app = consumer_app(settings, build_consumer_group(settings), title="Tradestack accounts engine")
