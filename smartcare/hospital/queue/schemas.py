"""JSON shapes of the queue API (they also document it in the OpenAPI)."""

from pydantic import BaseModel, Field


class Called(BaseModel):
    """The number being called now."""

    number: int
    recalls: int = Field(description="How many times it was called again")
    called_at: str | None


class WaitingNumber(BaseModel):
    """A waiting number, in call order (no names: displays are public)."""

    number: int
    priority: bool


class Ticket(BaseModel):
    """A checked-in visit as its patient sees it."""

    ticket: str
    session: str
    number: int
    status: str = Field(description="waiting, called, done, skipped or transferred")
    appointment: str
    priority: str | None = Field(description="elderly, disabled or results when the patient goes ahead")
    ahead: int | None = Field(description="How many will be called first")
    wait_minutes: int | None = Field(description="Estimated minutes until called, from the doctor's recent pace")


class SessionQueue(BaseModel):
    """One clinic session's queue as the public display shows it."""

    session: str = Field(description="practitioner:YYYY-MM-DD:am|pm")
    practitioner: str
    day: str
    half: str
    room: str | None
    called: Called | None
    waiting: list[WaitingNumber]
    consult_minutes: float = Field(description="The doctor's recent mean consultation time")
    mine: list[Ticket] = Field(default_factory=list, description="The caller's own tickets in this session")


class CheckIn(BaseModel):
    """Check-in options: the registration desk may give a priority."""

    priority: str | None = Field(default=None, description="elderly, disabled or results (desk only)")


class Transfer(BaseModel):
    """Move a waiting number to a colleague's queue in the same session."""

    number: int = Field(ge=1, le=100000)
    to: str = Field(min_length=1, max_length=64, description="The colleague's Practitioner id")


class Problem(BaseModel):
    """A refused request."""

    error: str
    message: str
