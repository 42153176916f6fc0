"""`/api/openapi.json` (the merged document) and `/api/docs` (Swagger UI from vendored files)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from services.gateway.openapi import MergedOpenApi

# Swagger UI is started by a script file, not an inline script, so the CSP can forbid inline code.
_INIT_JS = b"""window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tradestack API</title>
<link rel="icon" type="image/png" href="/vendor/swagger-ui/favicon-32x32.png?v={version}">
<link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css?v={version}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/vendor/swagger-ui/swagger-ui-bundle.js?v={version}"></script>
<script src="/api/docs/init.js"></script>
</body>
</html>
"""


def docs_router(spec: MergedOpenApi, web_dir: Path) -> APIRouter:
    """Routes for the merged OpenAPI document and the Swagger UI page."""
    router = APIRouter(include_in_schema=False)
    version_file = web_dir / "vendor" / "swagger-ui" / "VERSION"
    # The version in asset URLs busts the immutable cache when the vendored files change.
    version = version_file.read_text().strip() if version_file.exists() else "0"
    page = _PAGE.format(version=version)

    @router.get("/api/openapi.json")
    async def openapi_json() -> Response:
        return Response(
            await spec.document(),
            media_type="application/json",
            headers={"cache-control": "no-cache"},
        )

    @router.get("/api/docs")
    async def swagger_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"cache-control": "no-cache"})

    @router.get("/api/docs/init.js")
    async def swagger_init() -> Response:
        return Response(
            _INIT_JS, media_type="text/javascript", headers={"cache-control": "no-cache"}
        )

    return router
