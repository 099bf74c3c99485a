"""The booking API's request bodies."""

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class BookingRequest(_Body):
    """POST /api/v1/appointments: a slot for a patient; slot_version refuses a slot changed since it was seen."""

    slot: str = Field(max_length=80)
    patient: str = Field(max_length=80)
    slot_version: int | None = Field(default=None, ge=1)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=64)


class RescheduleRequest(_Body):
    """POST /api/v1/appointments/{id}/reschedule: the new slot."""

    slot: str = Field(max_length=80)
    slot_version: int | None = Field(default=None, ge=1)


class PaymentRequest(_Body):
    """POST /api/v1/appointments/{id}/payment: what the payer's payment app returned."""

    confirmation: str = Field(min_length=1, max_length=200)


class WaitlistRequest(_Body):
    """POST /api/v1/waitlist: wait for a doctor on a day."""

    practitioner: str = Field(max_length=80)
    date: str = Field(max_length=10)
    patient: str = Field(max_length=80)
