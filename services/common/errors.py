"""The error hierarchy every service raises, and its one mapping to HTTP responses.

Every error leaves the API as `{"error": {"code": "...", "message": "..."}}` with a precise status.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException


class OrjsonResponse(JSONResponse):
    """JSON response rendered with orjson (FastAPI's ORJSONResponse is deprecated)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


ErrorJSONResponse = OrjsonResponse
"""What error answers are rendered with."""


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


class ErrorDetail(BaseModel):
    """`code` is machine-readable (e.g. `price_off_tick`); some errors add fields (`fields`,
    `details`, `server_time_ms`, ...)."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Bad request: malformed JSON or a parameter the service refuses",
    401: "Not authenticated: no, invalid or expired credentials",
    403: "Authenticated but not allowed",
    404: "No such resource",
    409: "Conflicts with the resource's current state",
    413: "Request body too large",
    422: "Validation failed: the body or a parameter does not fit the schema",
    429: "Too many requests (see Retry-After)",
    503: "A dependency (the local AWS endpoint, a stream) is unavailable; retry",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` declaring error answers with the error schema, for a router or route:
    `APIRouter(responses=error_responses(400, 401, 422))`. Declaring 422 also replaces FastAPI's
    default `HTTPValidationError`, which is not what our handlers send."""
    return {
        status: {"model": ErrorBody, "description": _DESCRIPTIONS[status]} for status in statuses
    }


_FASTAPI_PARSE_ERROR = "There was an error parsing the body"


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
        if exc.status_code == 400 and message == _FASTAPI_PARSE_ERROR:
            # FastAPI's answer to a body it cannot even decode (not UTF-8, nested too deep)
            code, message = "malformed_json", "The request body is not valid JSON."
        response = error_response(exc.status_code, code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response
