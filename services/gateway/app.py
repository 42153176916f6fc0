"""The gateway: the local stand-in for API Gateway + CloudFront on port 8000 (`uvicorn
services.gateway.app:app`). How it is put together: `gateway.py`."""

from __future__ import annotations

import logging

from services.common.logging import configure_logging
from services.gateway.gateway import create_gateway
from services.gateway.settings import GatewaySettings

settings = GatewaySettings()
configure_logging(settings.service_name, settings.log_level, settings.log_format)
logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every OpenAPI and health fetch
app = create_gateway(settings)
