"""Errors of the OpenAI-compatible API in OpenAI's shape, `{"error": {"message", "type",
"param", "code"}}`, so the official clients raise their usual exceptions with a readable
message: the exception handlers of app/api/openai_compat.py, and the responses its schema
documents."""

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec

from app.answering.generation import GeneratorBusy
from app.openai_schemas import ErrorDetail, ErrorResponse

log = logging.getLogger("app.api.openai_compat")


class OpenAIError(Exception):
    """A request error reported in OpenAI's shape."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        kind: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.kind, self.param, self.code = (
            message, status, kind, param, code,
        )  # fmt: skip


# --- errors --------------------------------------------------------------------------------


def error_response(
    status: int, message: str, kind: str, param: str | None = None, code: str | None = None
) -> Response[ErrorResponse]:
    return Response(ErrorResponse(ErrorDetail(message, kind, param, code)), status_code=status)


def on_openai_error(_: Request[Any, Any, Any], error: OpenAIError) -> Response[ErrorResponse]:
    return error_response(error.status, error.message, error.kind, error.param, error.code)


def on_http_error(_: Request[Any, Any, Any], error: HTTPException) -> Response[ErrorResponse]:
    """Litestar's own errors (body validation, size limits) in OpenAI's shape; the
    validation details ("Expected `str`, got `int`", and where) are the useful part."""
    message, param = error.detail, None
    if isinstance(error.extra, list):
        found = [e for e in error.extra if isinstance(e, dict) and e.get("message")]
        if found:
            keys = [str(e["key"]) for e in found if e.get("key")]
            message = "; ".join(
                f"{e['message']} at '{e['key']}'" if e.get("key") else str(e["message"])
                for e in found
            )
            param = keys[0] if keys else None
    kind = "invalid_request_error" if error.status_code < 500 else "server_error"
    response = error_response(error.status_code, message, kind, param)
    response.headers.update(error.headers or {})
    return response


def on_busy(_: Request[Any, Any, Any], busy: GeneratorBusy) -> Response[ErrorResponse]:
    response = error_response(503, str(busy), "server_error", code="model_busy")
    response.headers["Retry-After"] = str(busy.retry_after)
    return response


def on_unexpected(_: Request[Any, Any, Any], error: Exception) -> Response[ErrorResponse]:
    log.exception("OpenAI-compatible request failed", exc_info=error)
    return error_response(500, "The request could not be completed.", "server_error")


# Errors here have OpenAI's shape ({"error": {...}}), so the schema says so.
OPENAI_ERRORS = {
    400: ResponseSpec(ErrorResponse, description="Invalid request.", generate_examples=False),
    404: ResponseSpec(ErrorResponse, description="Unknown model.", generate_examples=False),
}
