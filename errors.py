"""Our exceptions, one per `extensions.code` in API.md. Imports nothing of ours."""

from __future__ import annotations


class PortalError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, *, field: str | None = None, **extensions: object) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, object] = {"code": self.code, **extensions}
        if field is not None:
            self.extensions["field"] = field


class Unauthenticated(PortalError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "You need to sign in.") -> None:
        super().__init__(message)


class Forbidden(PortalError):
    code = "FORBIDDEN"

    def __init__(self, message: str = "You are not allowed to do this.") -> None:
        super().__init__(message)


class NotFound(PortalError):
    code = "NOT_FOUND"

    def __init__(self, what: str = "Object") -> None:
        super().__init__(f"{what} not found.")


class BadInput(PortalError):
    code = "BAD_USER_INPUT"


class Conflict(PortalError):
    code = "CONFLICT"


class RateLimited(PortalError):
    code = "RATE_LIMITED"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many attempts. Try again in {retry_after} seconds.", retryAfter=retry_after
        )


class PaymentsDisabled(PortalError):
    code = "PAYMENTS_DISABLED"


class DeliveryFailed(PortalError):
    """Mail could not be handed to the server. The code stays within API.md's set; the
    `reason` tells a client it may simply try again."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self) -> None:
        super().__init__(
            "The email could not be sent, so nothing was changed. Please try again.",
            reason="MAIL_DELIVERY_FAILED",
        )
