"""What every answer of ``ehx serve`` carries, and what no refusal may carry.

- Security headers on every response: no sniffing, no framing, no referrer, and a
  content security policy that allows the console's own stylesheet and nothing else.
  FastAPI's interactive docs (``/docs``, ``/redoc``) load Swagger UI from a CDN, so they
  get no policy; they hold no personal data.
- ``Cache-Control: no-store`` on everything but the static files: family pages and API
  answers hold personal data, which a shared computer's cache must not keep.
- Validation refusals (422) name the field and what is wrong, never the value sent:
  FastAPI's default echoes ``input``, which here is consent evidence or a person's name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
#: Swagger UI and ReDoc, which load scripts from a CDN and show no personal data.
DOCS = ("/docs", "/redoc", "/openapi.json")


def refusal_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Each error's place, message and type: FastAPI's shape, without the input."""
    return [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]


def harden(app: FastAPI) -> None:
    """Add the headers and the echo-free validation refusals to ``app``."""

    @app.exception_handler(RequestValidationError)
    async def no_echo(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": refusal_detail(exc)}, status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.middleware("http")
    async def headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(HEADERS)
        path = request.url.path
        if not path.startswith(DOCS):
            response.headers["Content-Security-Policy"] = CSP
        if not path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response


def strict_transport(app: FastAPI) -> None:
    """Tell browsers to come back over HTTPS only, for a year (behind TLS: the console's
    secure cookies are on)."""

    @app.middleware("http")
    async def hsts(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response
