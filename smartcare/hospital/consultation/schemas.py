"""What the consultation API takes in (Pydantic, with length limits on everything a person types)."""

from typing import Literal

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """A refused request: a code and a sentence for people."""

    error: str
    message: str


class OpenConsultation(BaseModel):
    """Open a consultation with a doctor or a department's on-duty pool (exactly one of the two)."""

    patient: str = Field(min_length=1, max_length=64)
    kind: Literal["advice", "follow_up"]
    question: str = Field(min_length=1, max_length=4000)
    practitioner: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, max_length=64)
    condition: str | None = Field(default=None, max_length=64)
    fee: float = Field(default=0, ge=0, le=100_000)


class NewMessage(BaseModel):
    """A message with the client's own id for it, so sending again after a lost answer stores it once."""

    client_id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1, max_length=4000)
    category: Literal["message", "info-request"] = "message"


class Receipt(BaseModel):
    """The other side's messages up to seq have reached this device (delivered) or been read."""

    up_to: int = Field(ge=0)
    receipt: Literal["delivered", "read"] = "read"


class Closing(BaseModel):
    """Closing: the doctor's summary and advice (a follow-up may carry an ICD-10 diagnosis)."""

    summary: str = Field(default="", max_length=4000)
    advice: str = Field(default="", max_length=4000)
    diagnosis: str | None = Field(default=None, max_length=16)


class Rating(BaseModel):
    """The patient's satisfaction after closing."""

    rating: int = Field(ge=1, le=5)
    feedback: str = Field(default="", max_length=1000)


class Line(BaseModel):
    """One medicine of an online prescription."""

    medicine: str = Field(min_length=1, max_length=100)
    dose: float = Field(gt=0, le=100_000)
    unit: Literal["mg", "g", "ug", "[iU]", "mL", "mg/kg"] = "mg"
    frequency: str = Field(default="QD", max_length=8)
    route: str = Field(default="oral", max_length=20)
    days: int | None = Field(default=None, ge=1, le=365)
    note: str = Field(default="", max_length=200)


class Prescription(BaseModel):
    """An online prescription: 1 to 20 lines."""

    lines: list[Line] = Field(min_length=1, max_length=20)
