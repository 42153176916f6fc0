"""The local AWS endpoint: moto's server with the venue's fixes, `python -m services.common.moto_server`.

moto is the local AWS (`tradestack up`, the tests). This module serves it with:

1. The patches of `services.common.moto_patches`: one correctness fix (moto's Kinesis writes are
   not thread-safe and lose acknowledged records) and speed-ups of moto's per-call overhead
   (~2-3 ms of CPU per call before any work, measured under `tradestack bench e2e`). Each speed-up
   is installed only after `services.common.moto_selftest` has shown, against the moto that is
   installed, that it leaves every answer unchanged; one that does not is refused and moto's own
   code answers instead, with one warning naming the moto version. `GET /_tradestack/patches`
   says which are in use. `TRADESTACK_MOTO_SPEEDUPS=false` installs none and runs moto's own
   (werkzeug) server with only the correctness fix.
2. A keep-alive front (`services.common.moto_http`): moto's werkzeug server closes every
   connection after one response; this one keeps them, parses with httptools on one event loop,
   and hands Kinesis and DynamoDB calls straight to moto's handlers (`direct_json_dispatch`).

Command line: `-H HOST -p PORT`, as `python -m moto.server`. Nothing here runs against real AWS.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from typing import Any

from services.common.moto_patches import CORRECTNESS, SPEEDUPS, Patch

log = logging.getLogger("tradestack.moto_server")

DIRECT_DISPATCH = False
"""Whether `direct_json_dispatch` skips Flask (set by the `direct-dispatch` patch)."""

PATCHES: dict[str, Any] = {"moto": None, "installed": [], "refused": {}}
"""What `GET /_tradestack/patches` answers: moto's version, the patches in use, the refused ones
with the reason."""


PATCHES_PATH = "/_tradestack/patches"


def moto_version() -> str:
    from importlib.metadata import version

    return version("moto")


def install_patches(speedups: Sequence[Patch] = SPEEDUPS) -> dict[str, Any]:
    """Install the correctness fix and every speed-up of `speedups` that passes the self-test.

    Returns (and keeps in `PATCHES`) what was installed and what was refused and why; logs one
    warning if anything was refused. Called once, when the endpoint starts."""
    from services.common import moto_selftest

    PATCHES.update(moto=moto_version(), installed=[], refused={})
    try:
        CORRECTNESS.install()
    except (AttributeError, ImportError) as exc:
        PATCHES["refused"][CORRECTNESS.name] = f"cannot be installed: {exc}"
    else:
        PATCHES["installed"].append(CORRECTNESS.name)
    if speedups:
        verdict = moto_selftest.verify(speedups)
        PATCHES["installed"].extend(verdict.installed)
        PATCHES["refused"].update(verdict.refused)
    if PATCHES["refused"]:
        reasons = "; ".join(f"{name}: {why}" for name, why in PATCHES["refused"].items())
        log.warning(
            "moto %s: the local AWS endpoint refused %d of its patches of moto's internals and "
            "uses moto's own code for them (correct, slower). Tradestack is tested with the "
            "moto of requirements/dev.lock; reinstall with `make install` or update the patches "
            "in services/common/moto_patches.py. Refused: %s",
            PATCHES["moto"],
            len(PATCHES["refused"]),
            reasons,
        )
    return PATCHES


def main(argv: list[str] | None = None) -> None:
    """Run moto with the patches: on the keep-alive server of `services.common.moto_http`, or,
    with `TRADESTACK_MOTO_SPEEDUPS=false`, on moto's own werkzeug server."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    speedups = os.environ.get("TRADESTACK_MOTO_SPEEDUPS", "true").lower() not in (
        "0",
        "false",
        "no",
    )
    install_patches(SPEEDUPS if speedups else ())
    if not speedups:
        from moto.server import main as moto_main

        moto_main(argv)
        return
    parser = argparse.ArgumentParser(description="moto's server with Tradestack's fixes")
    parser.add_argument("-H", "--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)))
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from services.common import moto_http

    moto_http.INFO_PATHS[PATCHES_PATH] = lambda: PATCHES
    app = direct_json_dispatch(DomainDispatcherApplication(create_backend_app))
    moto_http.run(app, args.host, args.port)


def direct_json_dispatch(app: Any) -> Any:
    """moto's WSGI `app`, with Kinesis and DynamoDB calls handed straight to moto's handlers
    while `DIRECT_DISPATCH` is on.

    Those are POSTs to `/` named by `X-Amz-Target`. moto's Flask app routes them through a
    request context, URL matching and a werkzeug `Response` to the same handler; skipping that
    saves ~10% of moto's CPU under `tradestack bench e2e`. The request and the answer are what
    the Flask route builds (moto's `Request`, `convert_to_flask_response`'s error mapping, the
    default content type and Flask-CORS's header); everything else still goes through `app`.
    """
    from botocore.exceptions import ClientError
    from moto.core.request import Request
    from moto.dynamodb.responses import DynamoHandler
    from moto.kinesis.responses import KinesisResponse
    from moto.moto_api import recorder

    class ServerRequest(Request):
        from_wsgi_server = True

    handlers = {
        "DynamoDB_20120810": DynamoHandler.dispatch,
        "Kinesis_20131202": KinesisResponse.dispatch,
    }

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        handler = handlers.get(environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0])
        if (
            not DIRECT_DISPATCH
            or handler is None
            or environ.get("REQUEST_METHOD") != "POST"
            or environ.get("PATH_INFO") != "/"
            or "HTTP_ORIGIN" in environ
        ):
            return app(environ, start_response)
        request = ServerRequest(environ)
        recorder._record_request(request)
        try:
            result = handler(request, request.raw_url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, content = result if len(result) == 3 else (200, {}, result)
        body = content.encode() if isinstance(content, str) else bytes(content or b"")
        header_list = [(str(name), str(value)) for name, value in headers.items()]
        names = {name.lower() for name, _ in header_list}
        if "content-type" not in names:
            header_list.append(("Content-Type", "text/html; charset=utf-8"))
        header_list.append(("Access-Control-Allow-Origin", "*"))
        start_response(f"{int(status)} {_reason(int(status))}", header_list)
        return [body]

    return wsgi


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


if __name__ == "__main__":
    main()
