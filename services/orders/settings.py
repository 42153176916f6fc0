"""Settings of the orders service and its workers (environment: TRADESTACK_ORDERS_*)."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import BaseServiceSettings
from services.common.streams import LeaseConfig, RuntimeConfig


class OrdersSettings(BaseServiceSettings):
    """What the orders API and its three workers read from the environment."""

    service_name: str = "orders"
    orders_wait_timeout_s: float = Field(default=5.0, ge=0, le=30, description="Bound of ?wait=.")
    orders_market_cache_s: float = Field(default=2.0, ge=0, description="Markets kept in memory.")
    orders_recent_id_window_s: float = Field(
        default=60.0,
        description="A cancel for an id not yet projected is still sent if the id is this recent.",
    )
    orders_client_id_ttl_s: int = Field(default=7 * 86400, description="client_order_id memory.")
    orders_faucet_caps: dict[str, str] = Field(
        default={"USD": "1000000", "BTC": "10", "ETH": "100", "SOL": "5000"},
        description="Demo faucet: most a user may hold (available + held) of each asset.",
    )
    orders_snapshot_interval_s: float = Field(default=60.0, gt=0)
    orders_checkpoint_interval_s: float = Field(default=1.0, gt=0)
    orders_lease_s: float = Field(default=10.0, gt=1)
    orders_projector_flush_s: float = Field(default=0.05, gt=0, description="Projector batch age.")
    orders_scan_interval_s: float = Field(default=5.0, gt=0, description="Lease scan period.")

    def runtime_config(self) -> RuntimeConfig:
        """Stream runtime timings for the accounts engine and relay workers."""
        return RuntimeConfig(
            lease=LeaseConfig(duration_s=self.orders_lease_s),
            checkpoint_interval_s=self.orders_checkpoint_interval_s,
            snapshot_interval_s=self.orders_snapshot_interval_s,
            scan_interval_s=self.orders_scan_interval_s,
            tip_poll_interval_s=self.stream_tip_poll_s,
        )
