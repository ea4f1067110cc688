"""Expected failures of the server's services, each with a stable code and a
clear message that never contains PHI. The API maps them to HTTP statuses."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(ServiceError):
    status = 422
    code = "invalid_input"


class AuthenticationFailed(ServiceError):
    status = 401
    code = "not_authenticated"


class PermissionDenied(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class AlreadyExists(ServiceError):
    status = 409
    code = "already_exists"
