"""The error hierarchy every service raises, and its one mapping to HTTP responses.

Every error leaves the API as `{"error": {"code": "...", "message": "..."}}` with a precise status.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
import orjson
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ErrorJSONResponse(JSONResponse):
    """JSON response rendered with orjson (FastAPI's ORJSONResponse is deprecated)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class TradestackError(Exception):
    """Base of every error a client may see. Subclasses fix `status` and a default `code`."""

    status: ClassVar[int] = 400
    code: str = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(TradestackError):
    status = 400
    code = "bad_request"


class ValidationFailed(TradestackError):
    status = 422
    code = "validation_failed"


class Unauthorized(TradestackError):
    status = 401
    code = "unauthorized"


class Forbidden(TradestackError):
    status = 403
    code = "forbidden"


class NotFound(TradestackError):
    status = 404
    code = "not_found"


class Conflict(TradestackError):
    status = 409
    code = "conflict"


class PayloadTooLarge(TradestackError):
    status = 413
    code = "payload_too_large"


class TooManyRequests(TradestackError):
    status = 429
    code = "too_many_requests"


class ServiceUnavailable(TradestackError):
    status = 503
    code = "service_unavailable"


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def error_response(status: int, code: str, message: str, **extra: Any) -> ErrorJSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    error.update(extra)
    return ErrorJSONResponse({"error": error}, status_code=status)


def _validation_response(exc: RequestValidationError) -> ErrorJSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "The request body is not valid JSON.")
    fields = []
    for e in errors:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        fields.append({"field": loc, "problem": e.get("msg", "invalid")})
    summary = "; ".join(f"{f['field'] or 'body'}: {f['problem']}" for f in fields[:5])
    return error_response(422, "validation_failed", summary or "Invalid request.", fields=fields)


def install_error_handlers(app: FastAPI) -> None:
    """Map every error to the API's error shape, once, for a service's app."""

    @app.exception_handler(TradestackError)
    async def _tradestack_error(_: Request, exc: TradestackError) -> ErrorJSONResponse:
        headers = {}
        if isinstance(exc, TooManyRequests) and "retry_after" in exc.details:
            headers["Retry-After"] = str(exc.details["retry_after"])
        return ErrorJSONResponse(exc.body(), status_code=exc.status, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> ErrorJSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> ErrorJSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        response = error_response(exc.status_code, code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response
