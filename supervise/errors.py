"""Domain errors. Services raise them; the web layer maps them to HTTP
statuses with the message, which is written for the user to act on."""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "error"

    def __init__(self, message: str, *, field_errors: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class ValidationError(DomainError):
    status = 400
    code = "validation_error"


class PayloadTooLarge(ValidationError):
    """An upload over the configured size limit (HTTP 413)."""

    status = 413
    code = "payload_too_large"


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"

    def __init__(self, message: str = "您没有权限执行此操作", **kw):
        super().__init__(message, **kw)


class NotFound(DomainError):
    status = 404
    code = "not_found"

    def __init__(self, message: str = "未找到该对象,或您无权查看", **kw):
        super().__init__(message, **kw)


class InvalidTransition(DomainError):
    status = 409
    code = "invalid_transition"


class Conflict(DomainError):
    """Somebody else changed the item since the caller loaded it."""

    status = 409
    code = "conflict"

    def __init__(self, message: str = "该事项已被他人修改,请刷新后重试", **kw):
        super().__init__(message, **kw)


class EvidenceUnavailable(DomainError):
    """A stored file is missing, or its bytes no longer match the hash they
    were stored under: it is refused, never served (HTTP 410)."""

    status = 410
    code = "evidence_unavailable"
