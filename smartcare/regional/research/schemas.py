"""Input of the research API: a data-use agreement as a regional administrator records it."""

from pydantic import BaseModel, ConfigDict, Field


class AgreementIn(BaseModel):
    """A research project and its signed data-use agreement (dates as YYYY-MM-DD)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=500)
    institution: str = Field(min_length=1, max_length=500)
    purpose: str = Field(min_length=1, max_length=500)
    number: str = Field(min_length=1, max_length=64)
    data_types: list[str] = Field(min_length=1, max_length=9)
    researchers: list[str] = Field(min_length=1, max_length=50)
    signed: str = Field(max_length=10)
    start: str = Field(max_length=10)
    end: str = Field(max_length=10)
