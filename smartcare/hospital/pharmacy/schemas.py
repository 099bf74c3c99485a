"""Input and output of the prescription-check API (POST /api/v1/prescription-check)."""

import math
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ICD10_PATTERN = r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MedicineLine(_Strict):
    """One medicine to check: its generic name (English or Chinese) or ATC code, and how it is taken."""

    medicine: str = Field(min_length=1, max_length=100, examples=["metformin", "二甲双胍", "A10BA02"])
    dose: float | None = Field(default=None, gt=0, le=1_000_000, examples=[500])
    unit: str | None = Field(default=None, max_length=20, examples=["mg"])
    frequency: str | None = Field(default=None, max_length=20, examples=["BID"])
    route: str | None = Field(default=None, max_length=30, examples=["oral"])
    ref: str | None = Field(default=None, max_length=64, description="Your id for this line, echoed in findings")
    indication: str | None = Field(default=None, pattern=ICD10_PATTERN, description="ICD-10 code")

    @field_validator("dose")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("dose must be a finite number")
        return value


class InlinePatient(_Strict):
    """The patient described inline, for systems that do not hold a SmartCare record."""

    age: float | None = Field(default=None, ge=0, le=130, description="Years")
    sex: Literal["female", "male"] | None = None
    weight: float | None = Field(default=None, gt=0, le=500, description="Kilograms")
    height: float | None = Field(default=None, gt=20, le=275, description="Centimetres")
    egfr: float | None = Field(default=None, ge=0, le=250, description="mL/min/1.73 m2")
    hepatic: Literal["mild", "moderate", "severe"] | None = Field(default=None,
                                                                 description="Hepatic impairment (Child-Pugh A/B/C)")
    pregnant: bool = False
    lactating: bool = False
    allergies: list[str] = Field(default_factory=list, max_length=50,
                                 description="SNOMED CT substance codes, allergy classes or names")
    conditions: list[str] = Field(default_factory=list, max_length=100, description="ICD-10 codes")
    current: list[MedicineLine] = Field(default_factory=list, max_length=50,
                                        description="Medicines already taken")

    @field_validator("allergies")
    @classmethod
    def _short_allergies(cls, value: list[str]) -> list[str]:
        if any(not 0 < len(item) <= 100 for item in value):
            raise ValueError("each allergy is 1 to 100 characters")
        return value

    @field_validator("conditions")
    @classmethod
    def _icd10(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not re.match(ICD10_PATTERN, code)]
        if bad:
            raise ValueError(f"not an ICD-10 code: {bad[0][:20]}")
        return value


class PrescriptionCheck(_Strict):
    """A prescription-check request: the patient (a Patient id, or inline facts) and the medicines."""

    patient: str | InlinePatient = Field(description='"Patient/{id}" of a SmartCare record, or inline facts')
    medicines: list[MedicineLine] = Field(min_length=1, max_length=50)


class FindingOut(BaseModel):
    """One problem found, why, what to do, and where the rule comes from."""

    rule: str
    severity: Literal["high", "moderate", "low"]
    summary: str
    detail: str
    advice: str
    source: str
    drugs: list[str]
    conditions: list[str]
    refs: list[str]
    suggestion: dict | None = None


class CheckedMedicine(BaseModel):
    """How a medicine line was understood."""

    ref: str
    medicine: str
    drug: str | None = Field(description="The formulary key, or null when the medicine is not known")
    name: str | None = None
    atc: list[str] = []


class PrescriptionCheckResult(BaseModel):
    """The findings, most severe first; blocking is true when any finding is high severity."""

    blocking: bool
    findings: list[FindingOut]
    medicines: list[CheckedMedicine]
    patient: dict
