"""The internet-hospital rules for online consultations, as plain functions over plain data.

Sources:
- 《互联网诊疗管理办法（试行）》(国卫医发〔2018〕25号), art. 16: online diagnosis and treatment only as a
  follow-up visit (复诊) for a common or chronic condition already clearly diagnosed at a physical
  institution, never for a first visit; art. 18: online prescriptions only once the doctor holds the
  patient's records, signed by the doctor and reviewed by a pharmacist; art. 19: no narcotic, psychotropic
  or other specially controlled drugs prescribed online.
- 《互联网诊疗监管细则（试行）》(国卫办医发〔2022〕2号): the patient shows records with a clear diagnosis and
  the receiving doctor judges whether the visit is a follow-up; the prescription is written by that doctor
  and takes effect only after a pharmacist's review; specially controlled drugs are not prescribed online.

Online *advice* (健康咨询) is open to anyone and carries neither diagnosis nor prescription.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ADVICE = "advice"
FOLLOW_UP = "follow_up"
KINDS = (ADVICE, FOLLOW_UP)
MEASURES = "《互联网诊疗管理办法（试行）》国卫医发〔2018〕25号"
DETAILED_RULES = "《互联网诊疗监管细则（试行）》国卫办医发〔2022〕2号"
# Encounter classes (v3 ActCode) that are a visit in person; VR (virtual) and HH (home health) are not.
IN_PERSON_CLASSES = frozenset({"AMB", "EMER", "IMP", "ACUTE", "NONAC", "OBSENC", "PRENC", "SS"})
DONE_OR_UNDER_WAY = frozenset({"finished", "in-progress", "arrived", "onleave", "triaged"})
ACTIVE_CLINICAL = frozenset({"active", "recurrence", "relapse"})
CONTROLLED_CLASSES = {
    "narcotic": ("a narcotic drug (麻醉药品)", "麻醉药品"),
    "psychotropic-1": ("a class I psychotropic drug (第一类精神药品)", "第一类精神药品"),
    "psychotropic-2": ("a class II psychotropic drug (第二类精神药品)", "第二类精神药品"),
}
DATA = Path(__file__).parent / "data" / "controlled_drugs.yaml"


class RuleRefused(Exception):
    """An internet-hospital rule forbids this; code names the rule, source cites it."""

    def __init__(self, message: str, *, code: str, source: str) -> None:
        super().__init__(f"{message} ({source})")
        self.code = code
        self.source = source


@dataclass(frozen=True)
class Controlled:
    """A drug that may not be prescribed online, and why."""

    atc: str
    name: str
    control_class: str


@cache
def controlled_drugs() -> dict[str, Controlled]:
    """The specially controlled drugs by ATC code (data/controlled_drugs.yaml)."""
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    drugs = {}
    for row in data["drugs"]:
        if row["class"] not in CONTROLLED_CLASSES:
            raise ValueError(f"{DATA}: unknown control class {row['class']!r} for {row['name']}")
        drugs[row["atc"]] = Controlled(row["atc"], row["name"], row["class"])
    return drugs


@dataclass(frozen=True)
class InPersonDiagnosis:
    """The basis of a follow-up visit: a condition diagnosed in person at a member institution."""

    condition_id: str
    encounter_id: str
    organization_id: str
    code: dict[str, Any]


def _ref_id(value: dict[str, Any] | None, res_type: str) -> str | None:
    reference = (value or {}).get("reference") or ""
    return reference.removeprefix(f"{res_type}/") if reference.startswith(f"{res_type}/") else None


def _codes(concept: dict[str, Any] | None) -> set[str]:
    return {c.get("code") for c in (concept or {}).get("coding", []) if c.get("code")}


def in_person_at(encounter: dict[str, Any], members: dict[str, str]) -> str | None:
    """The member institution where encounter took place in person, or None (virtual, planned, elsewhere).

    members maps every member organisation id, departments included, to its top-level institution.
    """
    cls = encounter.get("class") or {}
    if cls.get("code") not in IN_PERSON_CLASSES or encounter.get("status") not in DONE_OR_UNDER_WAY:
        return None
    organization = _ref_id(encounter.get("serviceProvider"), "Organization")
    return members.get(organization or "")


def follow_up_basis(*, conditions: Iterable[dict[str, Any]], encounters: Iterable[dict[str, Any]],
                    members: dict[str, str], condition_id: str | None = None) -> InPersonDiagnosis:
    """The in-person diagnosis a follow-up consultation rests on, or RuleRefused (no first visit online).

    A condition counts when it is current (clinical status active, recurrence or relapse), not refuted,
    unconfirmed or entered in error, and was diagnosed during an in-person encounter at a member
    institution. condition_id, when given, names the condition the patient is following up.
    """
    visits = {e.get("id"): e for e in encounters}
    for condition in conditions:
        if condition_id and condition.get("id") != condition_id:
            continue
        if not _codes(condition.get("clinicalStatus")) & ACTIVE_CLINICAL:
            continue
        if _codes(condition.get("verificationStatus")) & {"refuted", "entered-in-error", "unconfirmed"}:
            continue
        encounter_id = _ref_id(condition.get("encounter"), "Encounter")
        visit = visits.get(encounter_id)
        institution = in_person_at(visit, members) if visit else None
        if institution:
            return InPersonDiagnosis(str(condition["id"]), str(encounter_id), institution, condition.get("code") or {})
    raise RuleRefused(
        "An online follow-up visit needs a condition already diagnosed in person at one of our member "
        "institutions; none was found in your record. Please visit a clinic first, or ask for online advice",
        code="first-visit", source=f"{MEASURES}, art. 16; {DETAILED_RULES}")


def check_kind(kind: str) -> None:
    """Refuse an unknown kind of consultation."""
    if kind not in KINDS:
        raise RuleRefused(f"A consultation is {' or '.join(KINDS)}", code="bad-kind", source=MEASURES)


def check_online_diagnosis(kind: str) -> None:
    """Refuse a diagnosis in an advice consultation: no first-visit diagnosis online."""
    if kind != FOLLOW_UP:
        raise RuleRefused("Online advice carries no diagnosis; a diagnosis online is only a follow-up visit",
                          code="first-visit", source=f"{MEASURES}, art. 16")


def check_online_orders(kind: str) -> None:
    """Refuse tests ordered in an advice consultation: ordering tests is part of diagnosis and treatment online,
    which is only a follow-up visit (复诊)."""
    if kind != FOLLOW_UP:
        raise RuleRefused("Tests are only ordered online in a follow-up consultation (复诊); online advice carries "
                          "no orders", code="orders-not-follow-up", source=f"{MEASURES}, art. 16")


def check_online_prescription(kind: str, medicines: Iterable[tuple[str, tuple[str, ...] | None]]) -> None:
    """Refuse an online prescription outside a follow-up, or of a medicine that is unknown or controlled.

    medicines are (name as written, the formulary drug's ATC codes or None when the formulary does not know it).
    """
    if kind != FOLLOW_UP:
        raise RuleRefused("An online prescription is only written in a follow-up consultation (复诊)",
                          code="not-follow-up", source=f"{MEASURES}, art. 16 and 18")
    controlled = controlled_drugs()
    for name, atc in medicines:
        if not atc:
            # Unknown medicines cannot be checked against the control lists, so they are not prescribed online.
            raise RuleRefused(f"{name[:100]} is not in the formulary, so it cannot be prescribed online",
                              code="unknown-medicine", source=f"{MEASURES}, art. 19")
        found = next((controlled[code] for code in atc if code in controlled), None)
        if found is not None:
            label = CONTROLLED_CLASSES[found.control_class][0]
            raise RuleRefused(f"{name[:100]} is {label} and may not be prescribed online",
                              code="controlled-drug", source=f"{MEASURES}, art. 19; {DETAILED_RULES}")
