"""The remote consultation API's JSON: a request, the department's and the specialist's steps, and what comes back."""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Urgency = Literal["routine", "urgent", "emergency"]


class TeleconsultIn(BaseModel):
    """A request for a specialist opinion on chosen records of a patient, to a hospital department."""

    model_config = ConfigDict(extra="forbid")
    patient: str = Field(max_length=80, examples=["Patient/pat-00001"])
    department: str = Field(max_length=90, description="The receiving HealthcareService",
                            examples=["HealthcareService/hcs-cardio"])
    question: str = Field(min_length=1, max_length=2000)
    urgency: Urgency = "routine"
    records: list[str] = Field(min_length=1, max_length=20,
                               description="The patient's DiagnosticReport, Observation, ImagingStudy or "
                                           "DocumentReference references the specialists may read")


class AssignIn(BaseModel):
    """Give the consultation to one specialist of the receiving department."""

    model_config = ConfigDict(extra="forbid")
    specialist: str = Field(max_length=90, examples=["Practitioner/prac-li"])
    version: int | None = Field(default=None, ge=1)


class ConveneIn(BaseModel):
    """Convene a multi-disciplinary session: specialists of the receiving hospital at a time (with its zone)."""

    model_config = ConfigDict(extra="forbid")
    specialists: list[str] = Field(min_length=2, max_length=8)
    start: AwareDatetime
    version: int | None = Field(default=None, ge=1)


class AnswerIn(BaseModel):
    """The structured opinion: summary of findings, opinion (required), recommendations."""

    model_config = ConfigDict(extra="forbid")
    summary: str = Field(default="", max_length=4000)
    opinion: str = Field(min_length=1, max_length=4000)
    recommendations: str = Field(default="", max_length=4000)
    version: int | None = Field(default=None, ge=1)


class CancelIn(BaseModel):
    """Call the consultation off, with the reason."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)
    version: int | None = Field(default=None, ge=1)


class HistoryOut(BaseModel):
    time: str
    by: str
    text: str


class TeleconsultOut(BaseModel):
    """A consultation with its state, turnaround, the share's expiry, and the steps the caller may take."""

    id: str
    version: int
    state: str
    urgency: str
    patient: str
    patient_name: str
    department: str
    department_name: str
    requester: str
    question: str
    records: list[str]
    authored: str
    due: str
    overdue: bool
    minutes_left: int | None
    specialists: list[str]
    session_start: str | None
    room: str | None = Field(default=None, description="The multi-disciplinary session's video room (Encounter id)")
    share_expires: str | None
    opinion: str | None = Field(description="The DiagnosticReport holding the opinion, once answered")
    answered: str | None
    cancel_reason: str | None
    history: list[HistoryOut]
    sides: list[str]
    actions: list[str]


class TeleconsultListOut(BaseModel):
    teleconsults: list[TeleconsultOut]
