"""The directory API's JSON shapes: organisations, departments and doctors with fees, hours and free slots."""

from datetime import datetime

from pydantic import BaseModel, Field


class Money(BaseModel):
    """An amount of money."""

    value: float = Field(examples=[50])
    currency: str = Field(examples=["CNY"])


class VisitFee(BaseModel):
    """The fee of one visit type (ordinary, specialist, expert)."""

    visit_type: str = Field(examples=["ordinary"])
    name_en: str
    name_zh: str
    price: Money


class OpeningHours(BaseModel):
    """One opening session: days of the week and times (local time of the region), or all day."""

    days: list[str] = Field(examples=[["mon", "tue", "wed", "thu", "fri"]])
    all_day: bool = False
    start: str | None = Field(default=None, examples=["08:00"])
    end: str | None = Field(default=None, examples=["12:00"])


class Organization(BaseModel):
    """A hospital or community health centre."""

    id: str = Field(examples=["org-hosp-1"])
    name_en: str
    name_zh: str | None
    grade: str | None = Field(description="The institution grade, e.g. Grade III Class A hospital")
    grade_zh: str | None
    phone: str | None
    address: str | None


class OrganizationList(BaseModel):
    """The region's care providers."""

    organizations: list[Organization]


class Department(BaseModel):
    """A department of a hospital (its HealthcareService), with opening hours and fees per visit type."""

    id: str = Field(description="The HealthcareService id", examples=["hcs-hosp-1-cardiology"])
    key: str = Field(examples=["cardiology"])
    name_en: str
    name_zh: str | None
    organization_id: str | None
    organization_en: str | None
    organization_zh: str | None
    specialty: list[str] = Field(description="SNOMED CT practice-setting codes")
    opening_hours: list[OpeningHours]
    fees: list[VisitFee]


class DepartmentList(BaseModel):
    """Departments, optionally of one organisation."""

    departments: list[Department]


class Title(BaseModel):
    """A professional title, e.g. chief-physician 主任医师."""

    code: str
    name_en: str
    name_zh: str


class Doctor(BaseModel):
    """A doctor found by the search, with the next free slot and the fee of the visit type they offer."""

    id: str = Field(description="The Practitioner id")
    role_id: str = Field(description="The PractitionerRole id (for booking)")
    name_zh: str | None
    name_latin: str | None
    title: Title | None
    languages: list[str] = Field(description="BCP-47 codes", examples=[["zh-CN", "en"]])
    photo: str | None = Field(description="A data: URL of the photo")
    organization_id: str
    organization_en: str
    organization_zh: str | None
    department: str
    department_en: str
    department_zh: str | None
    room: str | None
    room_zh: str | None
    visit_type: str | None
    fee: Money | None
    next_free_slot: datetime | None


class DoctorSearch(BaseModel):
    """Doctor search results; red_flag means the symptom asked about needs Emergency or 120, not a booking."""

    count: int
    red_flag: bool
    doctors: list[Doctor]
