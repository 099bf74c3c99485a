"""The referral API's JSON: what a referring clinician sends, what a transition or a booking asks, what comes back."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Priority = Literal["routine", "urgent", "asap", "stat"]


class CarePlanItemIn(BaseModel):
    """A care plan activity, or a follow-up with its due date."""

    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1, max_length=500)
    due: date | None = None


class ReferralIn(BaseModel):
    """A new referral: up to a hospital department, or down to a community clinic with the care plan."""

    model_config = ConfigDict(extra="forbid")
    direction: Literal["upward", "downward"]
    patient: str = Field(max_length=80, examples=["Patient/pat-00001"])
    department: str = Field(max_length=90, description="The receiving HealthcareService",
                            examples=["HealthcareService/hcs-cardio"])
    reason: str = Field(min_length=1, max_length=500)
    summary: str = Field(default="", max_length=4000)
    urgency: Priority = "routine"
    attachments: list[str] = Field(default_factory=list, max_length=20,
                                   description="The patient's DiagnosticReport, ImagingStudy, Observation, "
                                               "DocumentReference or Condition references")
    encounter: str | None = Field(default=None, max_length=80)
    care_plan: list[CarePlanItemIn] = Field(default_factory=list, max_length=20)
    follow_ups: list[CarePlanItemIn] = Field(default_factory=list, max_length=20)


class TransitionIn(BaseModel):
    """A step in the referral's life; version is the one the caller saw (optimistic locking)."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["accept", "reject", "arrive", "complete", "cancel"]
    reason: str = Field(default="", max_length=500)
    version: int | None = Field(default=None, ge=1)


class BookingIn(BaseModel):
    """Book the referred patient into a slot of the receiving department."""

    model_config = ConfigDict(extra="forbid")
    slot: str = Field(max_length=80, examples=["Slot/abc"])
    version: int | None = Field(default=None, ge=1)


class HistoryOut(BaseModel):
    time: str
    by: str
    text: str


class ReferralOut(BaseModel):
    """A referral with its state, who may do what next, and its history."""

    id: str
    version: int
    direction: str
    state: str
    priority: str
    patient: str
    department: str
    department_name: str
    requester: str
    reason: str
    summary: str
    authored: str
    changed: str
    waiting_minutes: int
    attachments: list[str]
    history: list[HistoryOut]
    appointment: str | None
    care_plan: str | None
    follow_ups: list[dict]
    side: str | None
    actions: list[str]
    reject_reason: str | None


class ReferralListOut(BaseModel):
    referrals: list[ReferralOut]
