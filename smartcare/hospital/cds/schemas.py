"""The CDS Hooks 2.0 JSON shapes: requests, cards and feedback, validated at the edge.

Field names and cardinalities follow the CDS Hooks 2.0 specification (cds-hooks.hl7.org/2.0): a request
has hook, hookInstance (UUID), optional fhirServer (required when fhirAuthorization is given, cds-r-1),
context and prefetch; a card has summary (< 140 characters), indicator (info, warning, critical) and
source, and selectionBehavior whenever it carries suggestions; feedback names a card by its UUID with
outcome accepted (with the accepted suggestions) or overridden (with an optional reason).
"""

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_SUMMARY = 140
# A FHIR id (R4 "id" datatype): what may sit inside the references of a hook context.
FHIR_ID = r"^[A-Za-z0-9\-\.]{1,64}$"


class _Open(BaseModel):
    """Unknown fields are kept (the specification allows extensions) and ignored."""

    model_config = ConfigDict(extra="allow")


class FhirAuthorization(_Open):
    """The OAuth 2.0 token the service may use to read from the client's FHIR server."""

    access_token: str = Field(min_length=1, max_length=8192)
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=0)
    scope: str = Field(max_length=4096)
    subject: str = Field(min_length=1, max_length=256)
    patient: str | None = Field(default=None, max_length=64)


class HookRequest(_Open):
    """A call of one CDS service by a CDS client."""

    hook: str = Field(min_length=1, max_length=64)
    hookInstance: UUID
    fhirServer: str | None = Field(default=None, max_length=2048)
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _server_with_authorization(self) -> "HookRequest":
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirAuthorization needs fhirServer (CDS Hooks cds-r-1)")
        return self


class PatientContext(_Open):
    """The context of patient-view: who looks at whose record."""

    userId: str = Field(pattern=r"^(Practitioner|PractitionerRole|Patient|RelatedPerson)/[A-Za-z0-9\-\.]{1,64}$")
    patientId: str = Field(pattern=FHIR_ID)
    encounterId: str | None = Field(default=None, pattern=FHIR_ID)


class OrderSignContext(PatientContext):
    """The context of order-sign: the orders about to be signed, as a FHIR Bundle."""

    draftOrders: dict[str, Any]

    @field_validator("draftOrders")
    @classmethod
    def _bundle(cls, value: dict[str, Any]) -> dict[str, Any]:
        if value.get("resourceType") != "Bundle" or not isinstance(value.get("entry", []), list):
            raise ValueError("draftOrders must be a FHIR Bundle")
        return value


class OrderSelectContext(OrderSignContext):
    """The context of order-select: the orders chosen just now among the draft orders."""

    selections: list[str] = Field(min_length=1, max_length=200)


class Coding(_Open):
    """A FHIR Coding as CDS Hooks carries it (override reasons, topics)."""

    code: str = Field(min_length=1, max_length=64)
    system: str | None = Field(default=None, max_length=256)
    display: str | None = Field(default=None, max_length=256)


class OverrideReason(_Open):
    """Why the clinician set a card aside: a coded reason and, optionally, their own words."""

    reason: Coding | None = None
    userComment: str | None = Field(default=None, max_length=1000)


class AcceptedSuggestion(_Open):
    """A suggestion the clinician took."""

    id: UUID


class Feedback(_Open):
    """What the clinician did with one card."""

    card: UUID
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str = Field(min_length=10, max_length=40)

    @model_validator(mode="after")
    def _consistent(self) -> "Feedback":
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("an accepted card names the suggestions taken (acceptedSuggestions)")
        if self.outcome == "overridden" and self.acceptedSuggestions:
            raise ValueError("an overridden card has no accepted suggestions")
        return self


class FeedbackRequest(_Open):
    """The body of POST /cds-services/{id}/feedback."""

    feedback: list[Feedback] = Field(min_length=1, max_length=100)
