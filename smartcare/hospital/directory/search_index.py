"""The in-memory doctor search index: one flat entry per outpatient doctor, matched by name, department and symptom.

Pure data and functions (no database): service.py builds the entries from the store's directory
resources and keeps the index until a directory resource changes.
"""

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pypinyin import Style, lazy_pinyin

from smartcare.hospital.directory import conventions as dc

DATA_DIR = Path(__file__).parent / "data"
MAX_QUERY = 60
# Senior doctors first among equally good matches.
TITLE_RANK = {"chief-physician": 0, "associate-chief-physician": 1, "attending-physician": 2,
              "resident-physician": 3}
_HAN = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True, slots=True)
class DoctorEntry:
    """What the search needs and shows about one doctor's role in one department."""

    practitioner_id: str
    role_id: str
    name_zh: str
    name_latin: str
    pinyin: str  # full pinyin, lower case, no spaces: "zhangwei"
    initials: str  # "zw"
    title: dict[str, str] | None
    languages: tuple[str, ...]
    photo: str | None  # a data: URL
    organization_id: str
    organization_en: str
    organization_zh: str
    department: str  # department key, e.g. "cardiology"
    department_en: str
    department_zh: str
    service_id: str | None
    specialties: tuple[str, ...]  # SNOMED codes
    specialty_names: tuple[str, ...]
    visit_type: str | None
    fee: float | None
    room: str | None
    room_zh: str | None

    @property
    def rank(self) -> int:
        """Sort position of the title: chief physicians first."""
        return TITLE_RANK.get((self.title or {}).get("code", ""), len(TITLE_RANK))


@dataclass(slots=True)
class SearchIndex:
    """All outpatient doctors, with lookups by id."""

    doctors: list[DoctorEntry] = field(default_factory=list)

    def by_practitioner(self, practitioner_id: str) -> list[DoctorEntry]:
        """The entries (one per role) of one practitioner."""
        return [d for d in self.doctors if d.practitioner_id == practitioner_id]


@dataclass(frozen=True, slots=True)
class DoctorQuery:
    """A doctor search: every given criterion must hold."""

    text: str = ""  # a name (hanzi, pinyin, initials, Latin), department or symptom
    department: str = ""  # department key
    specialty: str = ""  # SNOMED code
    symptom: str = ""  # a symptom keyword (English or Chinese)
    organization: str = ""  # Organization id


def normalise(text: str) -> str:
    """Lower-case text without spaces, hyphens, apostrophes or accents ("Zhāng Wěi" -> "zhangwei")."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch) and ch not in " -'·.\u3000")


def pinyin_of(name_zh: str) -> tuple[str, str]:
    """The full pinyin and the initials of a Chinese name ("张伟" -> ("zhangwei", "zw"))."""
    if not _HAN.search(name_zh):
        return "", ""
    return "".join(lazy_pinyin(name_zh)).lower(), "".join(lazy_pinyin(name_zh, style=Style.FIRST_LETTER)).lower()


@cache
def symptom_table() -> dict[str, Any]:
    """The symptom-keyword to department data file (cached; read-only)."""
    with (DATA_DIR / "symptom_departments.json").open(encoding="utf-8") as handle:
        return json.load(handle)


def departments_for_symptom(keyword: str) -> tuple[list[str], bool]:
    """The department keys for a symptom keyword (best first) and whether it is a red flag for Emergency."""
    wanted = normalise(keyword)
    if not wanted:
        return [], False
    found: list[str] = []
    red_flag = False
    for row in symptom_table()["symptoms"]:
        words = [normalise(w) for w in row["en"] + row["zh"]]
        if any(wanted == w or (len(wanted) >= 2 and (wanted in w or w in wanted)) for w in words):
            found += [d for d in row["departments"] if d not in found]
            red_flag = red_flag or bool(row.get("red_flag"))
    return found, red_flag


def _name_matches(doctor: DoctorEntry, wanted: str) -> int | None:
    """How well a normalised query matches the doctor's name: 0 exact, 1 partial, None not at all."""
    names = [normalise(doctor.name_zh), normalise(doctor.name_latin), doctor.pinyin]
    if wanted in names or wanted == doctor.initials:
        return 0
    if any(wanted and wanted in n for n in names if n):
        return 1
    if wanted.isascii() and wanted.isalpha() and len(wanted) >= 2 and doctor.initials.startswith(wanted):
        return 1
    return None


def _department_matches(doctor: DoctorEntry, wanted: str) -> bool:
    names = [normalise(doctor.department_zh), normalise(doctor.department_en), doctor.department,
             *(normalise(s) for s in doctor.specialty_names)]
    return len(wanted) >= 2 and any(wanted in n for n in names)


def search(index: SearchIndex, query: DoctorQuery) -> list[DoctorEntry]:
    """The doctors matching every criterion of query, best matches and senior doctors first."""
    symptom_departments, _ = departments_for_symptom(query.symptom) if query.symptom else ([], False)
    wanted = normalise(query.text)[:MAX_QUERY]
    text_departments, _ = departments_for_symptom(query.text) if wanted else ([], False)
    scored: list[tuple[int, int, int, str, DoctorEntry]] = []
    for doctor in index.doctors:
        if query.organization and doctor.organization_id != query.organization:
            continue
        if query.department and doctor.department != query.department:
            continue
        if query.specialty and query.specialty not in doctor.specialties:
            continue
        if query.symptom and doctor.department not in symptom_departments:
            continue
        score = 0
        if wanted:
            name_score = _name_matches(doctor, wanted)
            if name_score is not None:
                score = name_score
            elif _department_matches(doctor, wanted):
                score = 2
            elif doctor.department in text_departments:
                score = 3
            else:
                continue
        department_order = symptom_departments.index(doctor.department) if symptom_departments else 0
        scored.append((score, department_order, doctor.rank, doctor.pinyin or normalise(doctor.name_latin), doctor))
    scored.sort(key=lambda item: item[:4])
    return [item[4] for item in scored]


def entry_from(practitioner: dict[str, Any], role: dict[str, Any], service: dict[str, Any] | None,
               organization: dict[str, Any] | None, room: dict[str, Any] | None) -> DoctorEntry:
    """One index entry from a doctor's directory resources."""
    name_zh, name_latin = "", ""
    for name in practitioner.get("name", []):
        family, given = name.get("family", ""), name.get("given", [])
        text = name.get("text") or (family + "".join(given) if _HAN.search(family) else " ".join([*given, family]))
        text = text.strip()
        if _HAN.search(text):
            name_zh = name_zh or text
        else:
            name_latin = name_latin or text
    pinyin, initials = pinyin_of(name_zh)
    if not pinyin and name_latin:
        parts = [normalise(p) for p in name_latin.split()]
        pinyin, initials = "".join(parts), "".join(p[:1] for p in parts)
    dept_type = (service or {}).get("type", [{}])[0]
    dept_coding = next((c for c in dept_type.get("coding", []) if c.get("system") == dc.DEPARTMENT_SYSTEM), {})
    visit_type = dc.visit_type_of(role)
    fees = dc.fees_of(service or {})
    # A role without its own specialty has its department's.
    specialties = role.get("specialty") or (service or {}).get("specialty", [])
    photo = next((p for p in practitioner.get("photo", [])
                  if p.get("contentType") in ("image/svg+xml", "image/png", "image/jpeg") and p.get("data")), None)
    return DoctorEntry(
        practitioner_id=practitioner["id"], role_id=role["id"], name_zh=name_zh, name_latin=name_latin,
        pinyin=pinyin, initials=initials, title=dc.title_of(practitioner),
        languages=tuple(dc.languages_of(practitioner)),
        photo=f"data:{photo['contentType']};base64,{photo['data']}" if photo else None,
        organization_id=(organization or {}).get("id", ""), organization_en=(organization or {}).get("name", ""),
        organization_zh=((organization or {}).get("alias") or [""])[0],
        department=dept_coding.get("code", ""), department_en=dept_coding.get("display", ""),
        department_zh=dept_type.get("text", dept_coding.get("display", "")),
        service_id=(service or {}).get("id"),
        specialties=tuple(c["code"] for s in specialties for c in s.get("coding", []) if c.get("code")),
        specialty_names=tuple(name for s in specialties
                              for name in [s.get("text"), *(c.get("display") for c in s.get("coding", []))] if name),
        visit_type=visit_type, fee=fees.get(visit_type) if visit_type else None,
        room=(room or {}).get("name"), room_zh=((room or {}).get("alias") or [None])[0],
    )
