"""The web UI at `/`, with the caching CloudFront would apply.

HTML is revalidated on every load (`no-cache`; ETag/Last-Modified make that a cheap 304), so a
deploy shows up at once. Vendored files and content-hashed assets (`app.3f9a1c2b.js`) never change
under the same URL, so browsers keep them for a year without asking.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_HASHED_NAME = re.compile(r"\.[0-9a-f]{8,}\.[a-z0-9]+$")


def cache_control(relative_path: str) -> str:
    """The Cache-Control for a file under `web/`, by its path."""
    path = relative_path.replace(os.sep, "/")
    if path.startswith("vendor/") or _HASHED_NAME.search(path):
        return IMMUTABLE
    return REVALIDATE


class WebAssets(StaticFiles):
    """Starlette's StaticFiles (ETag, Last-Modified, 304) plus Cache-Control by path."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, html=True, check_dir=False)
        self.root = os.path.realpath(directory)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        relative = os.path.relpath(full_path, self.root)
        response.headers["cache-control"] = cache_control(relative)
        return response
