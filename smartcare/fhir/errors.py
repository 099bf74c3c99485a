"""FHIR errors: exceptions that carry their HTTP status and render as an OperationOutcome."""

from typing import Any


class FhirError(Exception):
    """A failed FHIR interaction; the REST layer answers `status` with `outcome()`."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, issues: list[dict[str, Any]] | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.issues = issues
        if status is not None:
            self.status = status

    def outcome(self) -> dict[str, Any]:
        """The OperationOutcome that explains this error."""
        issues = self.issues or [{"severity": "error", "code": self.code, "diagnostics": self.message}]
        return operation_outcome(issues)


class InvalidResource(FhirError):
    """The resource failed validation (structure, types, cardinality, codes, references)."""

    status = 400
    code = "structure"


class BadRequest(FhirError):
    """The request itself is malformed: bad JSON, bad parameter, wrong method."""

    status = 400
    code = "invalid"


class NotFound(FhirError):
    """No resource of that type and id (or version) exists."""

    status = 404
    code = "not-found"


class Gone(FhirError):
    """The resource existed but its current version is deleted."""

    status = 410
    code = "deleted"


class Conflict(FhirError):
    """The write conflicts with current state (e.g. id in body differs from URL)."""

    status = 409
    code = "conflict"


class PreconditionFailed(FhirError):
    """If-Match named a stale version, or a conditional interaction matched more than one resource."""

    status = 412
    code = "conflict"


class Forbidden(FhirError):
    """The access policy denied the interaction."""

    status = 403
    code = "forbidden"


class TooLarge(FhirError):
    """The request body is over the configured size limit."""

    status = 413
    code = "too-long"


class NotSupported(FhirError):
    """The server does not support this interaction, type or format."""

    status = 400
    code = "not-supported"


class UnprocessableEntity(FhirError):
    """A semantically invalid request (e.g. a reference to a resource that does not exist)."""

    status = 422
    code = "processing"


def operation_outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    """Build an OperationOutcome resource from issue dicts (severity, code, diagnostics, expression)."""
    return {"resourceType": "OperationOutcome", "issue": issues}


def information_outcome(message: str) -> dict[str, Any]:
    """An OperationOutcome that reports success in words (for Prefer: return=OperationOutcome)."""
    return operation_outcome([{"severity": "information", "code": "informational", "diagnostics": message}])
