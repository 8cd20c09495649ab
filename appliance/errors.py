"""Domain errors, raised anywhere and translated to OpenAI's error shape at the HTTP edge.

Every error a caller can see is one of these; the gateway's single exception handler turns
it into ``{"error": {"message", "type", "code"}}`` with the status and headers it carries,
so no route ever builds an error body by hand and no stack trace ever leaves the process.
"""

from __future__ import annotations


class ApplianceError(Exception):
    """Base class: an error with an HTTP status and an OpenAI-style type and code."""

    status_code: int = 500
    error_type: str = "server_error"
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = dict(headers or {})


class InvalidRequest(ApplianceError):
    status_code = 400
    error_type = "invalid_request_error"
    code = "invalid_request"


class ContentBlocked(InvalidRequest):
    """400: the request holds a term of the keyword library whose action is ``block``; it
    never reaches the model."""

    code = "content_blocked"


class Unauthenticated(ApplianceError):
    status_code = 401
    error_type = "authentication_error"
    code = "invalid_token"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(
            message, code=code, headers={"WWW-Authenticate": 'Bearer realm="appliance"'}
        )


class Forbidden(ApplianceError):
    status_code = 403
    error_type = "permission_error"
    code = "forbidden"


class NotFound(ApplianceError):
    status_code = 404
    error_type = "invalid_request_error"
    code = "not_found"


class Conflict(ApplianceError):
    """409: the request clashes with what exists (a knowledge base of that name)."""

    status_code = 409
    error_type = "invalid_request_error"
    code = "conflict"


class ClientClosedRequest(ApplianceError):
    """The client went away while its request was still being read (nginx's 499)."""

    status_code = 499
    error_type = "invalid_request_error"
    code = "client_closed_request"


class PayloadTooLarge(ApplianceError):
    status_code = 413
    error_type = "invalid_request_error"
    code = "payload_too_large"


class RateLimited(ApplianceError):
    """429: the caller's own limit (concurrency or daily tokens); Retry-After says when."""

    status_code = 429
    error_type = "rate_limit_error"
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(max(1, retry_after_s))})
        self.retry_after_s = retry_after_s


class ServiceUnavailable(ApplianceError):
    """503: the appliance cannot serve now (audit store down, backends full or down)."""

    status_code = 503
    error_type = "server_error"
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after_s: int = 1, code: str | None = None) -> None:
        super().__init__(message, code=code, headers={"Retry-After": str(max(1, retry_after_s))})
        self.retry_after_s = retry_after_s


class AuditUnavailable(ServiceUnavailable):
    """The audit record could not be committed; the request must not go upstream."""

    code = "audit_unavailable"


class UpstreamError(ApplianceError):
    status_code = 502
    error_type = "server_error"
    code = "upstream_error"
