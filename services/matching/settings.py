"""Settings of the matching service (environment prefix `TRADESTACK_`)."""

from __future__ import annotations

from services.common.settings import BaseServiceSettings
from services.common.streams import LeaseConfig, RuntimeConfig


class MatchingSettings(BaseServiceSettings):
    service_name: str = "matching"
    port: int = 8004
    lease_seconds: float = 10.0
    checkpoint_every_records: int = 1_000
    checkpoint_interval_s: float = 1.0
    snapshot_every_records: int = 100_000
    snapshot_interval_s: float = 60.0

    def runtime_config(self) -> RuntimeConfig:
        return RuntimeConfig(
            lease=LeaseConfig(duration_s=self.lease_seconds),
            checkpoint_every_records=self.checkpoint_every_records,
            checkpoint_interval_s=self.checkpoint_interval_s,
            snapshot_every_records=self.snapshot_every_records,
            snapshot_interval_s=self.snapshot_interval_s,
            tip_poll_interval_s=self.stream_tip_poll_s,
        )
