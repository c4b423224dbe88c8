"""`Status` objects, the API server's error shape that kubectl and clients parse."""

from __future__ import annotations

from typing import Any

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "AlreadyExists",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    504: "Timeout",
}


class ApiError(Exception):
    def __init__(
        self,
        code: int,
        message: str,
        *,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = details

    def status(self) -> dict[str, Any]:
        return status_object(self.code, self.message, self.reason, self.details)


def status_object(
    code: int, message: str, reason: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    # The real server sends `details: {}` where it has nothing to say (a 404 for an unknown
    # path, a failed JSON patch) and leaves it out only for errors built without details.
    if details is not None:
        obj["details"] = details
    return obj


def details_of(name: str, kind: str) -> dict[str, Any]:
    """`details` as the real server fills it: `name` is omitted when empty (a list, a create
    without a name), `kind` is the resource ("pods") or the kind ("Pod") the error names."""
    return {"name": name, "kind": kind} if name else {"kind": kind}


def not_found(resource: str, name: str) -> ApiError:
    return ApiError(404, f'{resource} "{name}" not found', details=details_of(name, resource))


def already_exists(resource: str, name: str) -> ApiError:
    return ApiError(409, f'{resource} "{name}" already exists', details=details_of(name, resource))


def conflict(resource: str, name: str) -> ApiError:
    """409 Conflict for a stale resourceVersion, worded and detailed like the real server."""
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        reason="Conflict",
        details=details_of(name, resource),
    )


def precondition_failed(resource: str, name: str, field: str, wanted: str, found: str) -> ApiError:
    """409 for a DELETE whose ``preconditions`` (uid, resourceVersion) name another object."""
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {resource} "{name}": Precondition failed: '
        f"{field} in precondition: {wanted}, {field} in object meta: {found}",
        reason="Conflict",
        details=details_of(name, resource),
    )


#: The StatusCause reason Go's field errors carry, by the message's leading words.
_CAUSE_REASONS = (
    ("Required value", "FieldValueRequired"),
    ("Duplicate value", "FieldValueDuplicate"),
    ("Not found", "FieldValueNotFound"),
    ("Unsupported value", "FieldValueNotSupported"),
    ("Forbidden", "FieldValueForbidden"),
    ("Too long", "FieldValueTooLong"),
)


def cause_reason(message: str) -> str:
    return next((r for prefix, r in _CAUSE_REASONS if message.startswith(prefix)), "FieldValueInvalid")


def invalid(kind: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 with one cause per (field, message), worded like the API server."""
    text = "; ".join(f"{field}: {msg}" for field, msg in causes)
    return ApiError(
        422,
        f'{kind} "{name}" is invalid: {text}',
        details={
            **details_of(name, kind),
            "causes": [
                {"reason": cause_reason(msg), "message": msg, "field": field}
                for field, msg in causes
            ],
        },
    )
