"""Typed domain errors. Services raise them; the web and CLI edges map them once, here."""

from __future__ import annotations


class TechBridgeError(Exception):
    """Base class. ``field`` names the offending input field (or ``line:field`` for files)."""

    code = "error"
    http_status = 400
    exit_code = 1

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class Invalid(TechBridgeError):
    code = "invalid"
    http_status = 422
    exit_code = 2


class NotFound(TechBridgeError):
    code = "not_found"
    http_status = 404
    exit_code = 3


class Forbidden(TechBridgeError):
    code = "forbidden"
    http_status = 403
    exit_code = 4


class Conflict(TechBridgeError):
    code = "conflict"
    http_status = 409
    exit_code = 5


class Unauthenticated(TechBridgeError):
    """No valid login or token: log in first."""

    code = "unauthenticated"
    http_status = 401
    exit_code = 6


class RateLimited(TechBridgeError):
    code = "rate_limited"
    http_status = 429
    exit_code = 7

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after


class Misconfigured(TechBridgeError):
    """The installation lacks a setting this request needs (the operator must fix it)."""

    code = "misconfigured"
    http_status = 503
    exit_code = 8
