"""Demo residents registered again at a hospital, as happens in real regions, so the master patient index has work.

A resident registered at their community health centre turns up at a hospital's registration desk, which
types them in afresh: the name only in pinyin (and in Western order), a homophone character or a letter
wrong, day and month of birth swapped or a digit mistyped, a new phone, the identity card left at home or
its number mistyped. Each such registration is a Patient of its own, managed by the hospital, with a few
records there (an outpatient visit with blood pressure, pulse and weight), sent as that hospital
(`meta.source`). One resident of the first health centre (the first adult after the demo patient:
pat-00001 in the default demo of 500 residents, seed 1) is registered at both hospitals, so their records
come from three institutions. After the load every Patient is matched in the MPI, so the duplicates are
linked or wait in the review queue.

Everything follows from the seed and the stored residents, in id order.
"""

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from smartcare.demo import fhirtypes as ft
from smartcare.demo.accounts import CLINIC, first_resource
from smartcare.demo.facilities import build_directory
from smartcare.demo.generator import DEFAULT_AS_OF, _rng
from smartcare.demo.identifiers import check_character
from smartcare.demo.reference import load
from smartcare.fhir import bundles
from smartcare.fhir import tables as t
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM

HOSPITALS = ("org-hosp-1", "org-hosp-2")
# Departments a resident is likely to be seen at as an outpatient without a referral.
DEPARTMENTS = ("internal-medicine", "cardiology", "endocrinology", "respiratory", "gastroenterology", "neurology")
# One adult resident in this many (besides the demo patient) is registered again at a hospital.
SHARE = 12
MIN_DUPLICATES = 2
# Characters a registration clerk types for another one read the same way (同音字), for the given names the
# demo draws: the pinyin, and so the MPI's normalised name, does not change; what a person sees does.
HOMOPHONES = {
    "伟": "玮", "丽": "莉", "芳": "方", "娜": "纳", "娟": "涓", "婷": "庭", "敏": "民", "静": "靖", "华": "桦",
    "明": "铭", "军": "君", "杰": "洁", "涛": "滔", "磊": "垒", "霞": "侠", "红": "虹", "玲": "铃", "琳": "林",
    "燕": "艳", "英": "瑛", "平": "萍", "秀": "绣", "梅": "玫", "兰": "岚", "辉": "晖", "浩": "昊", "宇": "雨",
    "轩": "萱", "欣": "新", "怡": "仪", "涵": "含", "晨": "辰", "鑫": "欣", "勇": "永", "建": "健", "志": "智",
    "文": "雯", "春": "纯",
}


@dataclass(frozen=True, slots=True)
class Registration:
    """How one hospital registered a resident again: which details came out differently."""

    hospital: str
    name: str  # pinyin-western | pinyin-typo | homophone
    birth: str  # same | swapped | typo
    phone: str  # same | changed | missing
    identity: str  # none | kept | mistyped
    address: bool


def _residents(engine: Engine) -> tuple[list[dict[str, Any]], str | None]:
    """The generated residents (Patients pat-*) in id order, and who is registered at three institutions: the
    first adult of the first health centre after the demo patient (patient.demo keeps one registration, so the
    app's pages for them stay as they are)."""
    res = t.resource.c
    with unit_of_work(engine) as conn:
        rows = conn.execute(sa.select(res.content).where(
            res.res_type == "Patient", res.res_id.like("pat-%"), res.deleted.is_(False)).order_by(res.res_id)).all()
        demo = first_resource(conn, "Patient", [("organization", CLINIC)])
    residents = [row.content for row in rows if "-dup-" not in row.content["id"]]
    chosen = next((p["id"] for p in residents if _adult(p) and p["id"] != (demo or {}).get("id")
                   and p.get("managingOrganization", {}).get("reference") == CLINIC), None)
    return residents, chosen


def _adult(patient: dict[str, Any]) -> bool:
    return patient.get("birthDate", "9999") <= f"{DEFAULT_AS_OF.year - 18}-{DEFAULT_AS_OF:%m-%d}"


def plan_registrations(residents: list[dict[str, Any]], three_institutions: str | None,
                       rng: random.Random) -> dict[str, list[Registration]]:
    """Which residents (by id) are registered again where, and how: one resident at both hospitals (once with the
    identity card, once without it and with day and month of birth swapped), some other adults at one."""
    plans: dict[str, list[Registration]] = {}
    if three_institutions is not None:
        plans[three_institutions] = [
            Registration("org-hosp-1", "pinyin-western", "same", "same", "kept", False),
            Registration("org-hosp-2", "homophone", "swapped", "same", "none", True),
        ]
    adults = [p["id"] for p in residents if _adult(p) and p["id"] != three_institutions]
    wanted = max(MIN_DUPLICATES, len(adults) // SHARE) if len(adults) >= MIN_DUPLICATES else len(adults)
    for number, res_id in enumerate(sorted(rng.sample(adults, wanted))):
        hospital = rng.choice(HOSPITALS)
        if number % 3 == 1:
            # Every third is typed in too sparsely for the index to be sure (no phone, no address, no identity
            # card, a wrong birth day): it waits in the review queue for a person to decide.
            plans[res_id] = [Registration(hospital, "homophone", "typo", "missing", "none", False)]
            continue
        name = rng.choice(("pinyin-western", "homophone", "pinyin-typo"))
        birth = rng.choice(("same", "same", "swapped", "typo"))
        # Two slips at most: with a misspelt name or a wrong birth date the phone is the one they gave before.
        phone = "same" if name == "pinyin-typo" or birth != "same" else rng.choice(("same", "changed", "missing"))
        identity, address = rng.choice(("none", "none", "kept", "mistyped")), rng.random() < 0.5
        # The shipped model takes a different phone as strong evidence of a different person: a resident who
        # changed numbers is recognisable by their home address (the index then links or asks).
        plans[res_id] = [Registration(hospital, name, birth, phone, identity, address or phone == "changed")]
    return plans


def _names(patient: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    by_kind = {next((e["valueCode"] for e in n.get("extension", [])), ""): n for n in patient["name"]}
    return by_kind["IDE"], by_kind["ABC"]


def _typo(word: str, rng: random.Random) -> str:
    """One slip of the keyboard: a letter dropped, doubled, or two neighbours swapped."""
    if len(word) < 3:
        return word + word[-1]
    at = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return word[:at] + word[at + 1:]
    if kind == "double":
        return word[:at] + word[at] + word[at:]
    return word[:at] + word[at + 1] + word[at] + word[at + 2:]


def _name(patient: dict[str, Any], how: str, rng: random.Random) -> list[dict[str, Any]]:
    hanzi, pinyin = _names(patient)
    family, given = pinyin["family"], pinyin["given"][0]
    if how == "homophone":
        chars = hanzi["given"][0]
        swapped = "".join(HOMOPHONES.get(ch, ch) for ch in chars[:1]) + chars[1:]
        if swapped == chars:
            swapped = chars[:-1] + HOMOPHONES.get(chars[-1], chars[-1])
        return [{"use": "official", "text": hanzi["family"] + swapped, "family": hanzi["family"], "given": [swapped]}]
    if how == "pinyin-typo":
        given = _typo(given, rng).capitalize()
    # Typed the Western way round, as on a foreign-language form: given name first.
    return [{"use": "official", "text": f"{given} {family}", "family": family, "given": [given]}]


def _birth(birth: str, how: str, rng: random.Random) -> str:
    year, month, day = birth.split("-")
    if how == "swapped" and int(day) <= 12 and day != month:
        return f"{year}-{day}-{month}"
    if how in ("typo", "swapped"):
        # A wrong last digit of the day, kept a real date.
        for _ in range(10):
            candidate = f"{year}-{month}-{day[0]}{rng.randrange(10)}"
            try:
                if candidate != birth and date.fromisoformat(candidate):
                    return candidate
            except ValueError:
                continue
    return birth


def _identity(number: str, how: str, rng: random.Random) -> str | None:
    if how == "kept":
        return number
    if how == "mistyped":
        at = rng.randrange(6, 17)
        digit = str((int(number[at]) + rng.randrange(1, 10)) % 10)
        wrong = number[:at] + digit + number[at + 1:]
        # Mistyped digits usually break the check character; one that happens to keep it is changed once more.
        return wrong if check_character(wrong[:17]) != wrong[17] else wrong[:17] + ("0" if wrong[17] != "0" else "1")
    return None


def _phone(patient: dict[str, Any], how: str, rng: random.Random) -> str | None:
    current = next((tc["value"] for tc in patient.get("telecom", []) if tc.get("system") == "phone"), None)
    if how == "missing":
        return None
    if how == "changed" or current is None:
        return rng.choice(load("region")["mobile_prefixes"]) + f"{rng.randrange(10**8):08d}"
    return current


def registered_again(patient: dict[str, Any], plan: Registration, number: int, rng: random.Random) -> dict[str, Any]:
    """The hospital's own Patient for a resident it registered again, details typed as plan says."""
    dup: dict[str, Any] = {"resourceType": "Patient", "id": f"{patient['id']}-dup-{number}",
                           "meta": {"source": f"Organization/{plan.hospital}"}}
    national = next((i["value"] for i in patient.get("identifier", []) if i.get("system") == ft.RESIDENT_ID_SYSTEM),
                    None)
    number_typed = _identity(national, plan.identity, rng) if national else None
    dup["identifier"] = [{"use": "usual", "system": f"https://smartcare.example/fhir/sid/{plan.hospital}-mrn",
                          "value": f"{plan.hospital[-1]}{rng.randrange(10**7):07d}"}]
    if number_typed:
        dup["identifier"].append({"use": "official", "type": ft.concept(ft.V2_0203, "NI", "National unique individual "
                                                                                        "identifier"),
                                  "system": ft.RESIDENT_ID_SYSTEM, "value": number_typed})
    dup |= {"active": True, "name": _name(patient, plan.name, rng)}
    if phone := _phone(patient, plan.phone, rng):
        dup["telecom"] = [{"system": "phone", "value": phone, "use": "mobile"}]
    dup |= {"gender": patient["gender"], "birthDate": _birth(patient["birthDate"], plan.birth, rng)}
    if plan.address and patient.get("address"):
        dup["address"] = patient["address"]
    dup["managingOrganization"] = ft.reference("Organization", plan.hospital)
    return dup


def _visit(patient_id: str, hospital: str, source: str, directory: Any, rng: random.Random,
           seen_by: tuple[str, str] | None) -> list[dict[str, Any]]:
    """An outpatient visit at the hospital with the nurse's blood pressure, pulse and weight; seen_by (department,
    doctor) names who sees the patient, else a doctor of a department drawn."""
    drawn = directory.department(hospital, rng.choice(DEPARTMENTS))
    dept = directory.departments.get((hospital, seen_by[0])) if seen_by else None
    if dept is None or not dept.staff.get("nurse"):
        dept, seen_by = drawn, None
    doctor = seen_by[1] if seen_by else rng.choice(dept.staff["doctor"])
    nurse = rng.choice(dept.staff["nurse"])
    day = DEFAULT_AS_OF - timedelta(days=rng.randint(7, 330))
    start = datetime.combine(day, time(8)) + timedelta(minutes=rng.randint(0, 480))
    enc_id = f"enc-{patient_id}-1"
    meta = {"source": source}
    subject = ft.reference("Patient", patient_id)
    encounter = {
        "resourceType": "Encounter", "id": enc_id, "meta": meta, "status": "finished",
        "class": ft.coding(ft.V3_ACT_CODE, "AMB", "ambulatory"),
        "type": [ft.concept(ft.SNOMED, "11429006", "Consultation", "专科门诊")],
        "subject": subject,
        "participant": [{"type": [ft.concept(ft.V3_PARTICIPATION, "ATND", "attender")],
                         "individual": ft.reference("Practitioner", doctor)}],
        "period": {"start": ft.instant(start), "end": ft.instant(start + timedelta(minutes=rng.randint(10, 25)))},
        "serviceProvider": ft.reference("Organization", dept.dept_org_id),
    }
    vitals = load("observations")["vital_signs"]
    out = [encounter]
    values = {"bp": (rng.randint(108, 152), rng.randint(64, 96)), "hr": rng.randint(58, 96),
              "weight": round(rng.uniform(48, 88), 1)}
    for n, (key, value) in enumerate(values.items(), start=1):
        row = vitals[key]
        code = ft.concept(ft.LOINC, row["loinc"], row["display"], row["zh"])
        for extra_code, extra_display in row.get("extra_codings", []):
            code["coding"].append(ft.coding(ft.LOINC, extra_code, extra_display))
        observation: dict[str, Any] = {
            "resourceType": "Observation", "id": f"obs-{patient_id}-{n}", "meta": meta, "status": "final",
            "category": [ft.concept(ft.TERMINOLOGY + "observation-category", "vital-signs", "Vital Signs")],
            "code": code, "subject": subject, "encounter": ft.reference("Encounter", enc_id),
            "effectiveDateTime": ft.instant(start + timedelta(minutes=3)),
            "performer": [ft.reference("Practitioner", nurse)],
        }
        ucum, unit = row["unit"]
        if key == "bp":
            observation["component"] = [
                {"code": ft.concept(ft.LOINC, *row["components"][part]), "valueQuantity": ft.quantity(v, ucum, unit)}
                for part, v in zip(("systolic", "diastolic"), value, strict=True)]
        else:
            observation["valueQuantity"] = ft.quantity(value, ucum, unit)
        out.append(observation)
    return out


def hospital_doctor_of(encounter: dict[str, Any]) -> str | None:
    """The attending practitioner's id of a visit (as accounts.hospital_doctor reads it)."""
    attending = [p["individual"]["reference"] for p in encounter.get("participant", [])
                 if p.get("individual", {}).get("reference", "").startswith("Practitioner/")]
    return attending[0].removeprefix("Practitioner/") if attending else None


def load_duplicates(engine: Engine, *, seed: int) -> int:
    """Register some residents again at the hospitals, with their records there, then match every Patient in
    the MPI; returns how many resources were written."""
    from smartcare.regional.mpi import service

    residents, three_institutions = _residents(engine)
    with unit_of_work(engine) as conn:
        # The demo's hospital doctor is found as the doctor of the newest visit to the first hospital: the visits
        # written here are theirs, so doctor.demo stays who it was (and sees these patients too).
        latest = first_resource(conn, "Encounter", [("service-provider.partof", f"Organization/{HOSPITALS[0]}")])
    seen_by = None
    if latest is not None and (doctor := hospital_doctor_of(latest)):
        seen_by = (latest["serviceProvider"]["reference"].removeprefix(f"Organization/{HOSPITALS[0]}-"), doctor)
    by_id = {p["id"]: p for p in residents}
    rng = _rng(seed, "duplicates")
    directory = build_directory(_rng(seed, "facilities"), DEFAULT_AS_OF, set())
    resources: list[dict[str, Any]] = []
    for res_id, plans in plan_registrations(residents, three_institutions, rng).items():
        for number, plan in enumerate(plans, start=1):
            dup = registered_again(by_id[res_id], plan, number, rng)
            resources.append(dup)
            resources.extend(_visit(dup["id"], plan.hospital, f"Organization/{plan.hospital}", directory, rng,
                                    seen_by if plan.hospital == HOSPITALS[0] else None))
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in resources]
    with unit_of_work(engine) as conn:
        if entries:
            bundles.transaction(conn, SYSTEM, entries, "")
    while True:
        with unit_of_work(engine) as conn:
            if not service.match_all(conn, SYSTEM):
                break
    return len(resources)
