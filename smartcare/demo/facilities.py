"""Builds the demo region's hospitals, community health centres, departments, wards, services and staff."""

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from smartcare.demo import fhirtypes as ft
from smartcare.demo.identifiers import make_resident_id
from smartcare.demo.people import district, sample_birth_date, sample_name, street_address
from smartcare.demo.reference import load

# Youngest and oldest plausible age for each professional-title rank (0 = most senior).
_AGE_BY_RANK = [(45, 60), (38, 58), (30, 55), (25, 40), (22, 30)]
_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]
_ALL_DAYS = _WEEKDAYS + ["sat", "sun"]


@dataclass(slots=True)
class Department:
    """One department of one facility, with the ids the clinical history refers to."""

    org_id: str
    key: str
    dept_org_id: str
    service_id: str
    building_id: str
    ward_id: str | None
    staff: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class Directory:
    """Every facility resource and the lookups that residents' histories need."""

    resources: list[dict[str, Any]]
    departments: dict[tuple[str, str], Department]
    org_kind: dict[str, str]

    def department(self, org_id: str, key: str) -> Department:
        """Return the department `key` of facility `org_id`."""
        return self.departments[(org_id, key)]

    def laboratory_for(self, org_id: str) -> Department:
        """Return the laboratory that tests samples taken at `org_id` (CHCs send theirs to the district hospital)."""
        return self.departments.get((org_id, "laboratory")) or self.departments[("org-hosp-2", "laboratory")]


def build_directory(rng: random.Random, as_of: date, used_ids: set[str]) -> Directory:
    """Create the facility resources in reference order: organisations, locations, services, staff, roles."""
    data = load("facilities")
    dept_rows = {row["key"]: row for row in data["departments"]}
    orgs, depts, locations, services = [], [], [], []
    departments: dict[tuple[str, str], Department] = {}
    for org in data["organizations"]:
        orgs.append(_organization(org))
        buildings = [f"loc-{org['id'][4:]}-{b['key']}" for b in org["buildings"]]
        locations += [_building(org, b, lid) for b, lid in zip(org["buildings"], buildings, strict=True)]
        for key in data["department_sets"][org["kind"]]:
            row = dept_rows[key]
            dept = Department(org["id"], key, f"{org['id']}-{key}", f"hcs-{org['id'][4:]}-{key}", buildings[0],
                              None)
            depts.append(_department_org(org, row, dept))
            beds = row.get("beds", {}).get(org["kind"])
            if beds:
                dept.ward_id = f"loc-{org['id'][4:]}-ward-{key}"
                locations.append(_ward(org, row, dept, buildings[-1], beds))
            services.append(_service(org, row, dept))
            departments[(org["id"], key)] = dept
    staff = _staff(rng, as_of, used_ids, data, dept_rows, departments)
    org_kind = {org["id"]: org["kind"] for org in data["organizations"]}
    return Directory(orgs + depts + locations + services + staff, departments, org_kind)


def _address(org: dict[str, Any]) -> dict[str, Any]:
    return street_address(district(org["district"]), org["street"], org["number"], use="work")


def _organization(org: dict[str, Any]) -> dict[str, Any]:
    grade = org["grade"]
    return {
        "resourceType": "Organization",
        "id": org["id"],
        "identifier": [{
            "use": "official",
            "type": ft.concept(ft.V2_0203, "XX", "Organization identifier"),
            "system": ft.ORGANIZATION_CODE_SYSTEM,
            "value": f"{district(org['district'])['code']}-{org['id'][4:].upper()}",
        }],
        "active": True,
        "type": [
            ft.concept(ft.TERMINOLOGY + "organization-type", "prov", "Healthcare Provider"),
            ft.concept(ft.INSTITUTION_GRADE_SYSTEM, grade["code"], grade["display"], grade["zh"]),
        ],
        "name": org["name_en"],
        "alias": [org["name_zh"]],
        "telecom": [{"system": "phone", "value": org["phone"], "use": "work"}],
        "address": [_address(org)],
    }


def _department_org(org: dict[str, Any], row: dict[str, Any], dept: Department) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": dept.dept_org_id,
        "active": True,
        "type": [
            ft.concept(ft.TERMINOLOGY + "organization-type", "dept", "Hospital Department"),
            ft.concept(ft.DEPARTMENT_SYSTEM, row["key"], row["name_en"], row["name_zh"]),
        ],
        "name": f"{org['name_en']} - {row['name_en']}",
        "alias": [org["name_zh"] + row["name_zh"]],
        "partOf": ft.reference("Organization", org["id"]),
    }


def _building(org: dict[str, Any], building: dict[str, Any], location_id: str) -> dict[str, Any]:
    role = ("PC", "Primary care clinic") if org["kind"] == "chc" else ("HOSP", "Hospital")
    return {
        "resourceType": "Location",
        "id": location_id,
        "status": "active",
        "name": f"{org['name_en']} {building['name_en']}",
        "alias": [org["name_zh"] + building["name_zh"]],
        "mode": "instance",
        "type": [ft.concept(ft.V3_ROLE_CODE, role[0], role[1])],
        "address": _address(org),
        "physicalType": ft.concept(ft.TERMINOLOGY + "location-physical-type", "bu", "Building"),
        "managingOrganization": ft.reference("Organization", org["id"]),
    }


def _ward(org: dict[str, Any], row: dict[str, Any], dept: Department, building_id: str, beds: int) -> dict[str, Any]:
    return {
        "resourceType": "Location",
        "id": dept.ward_id,
        "extension": [{"url": ft.BED_COUNT_EXTENSION, "valueInteger": beds}],
        "status": "active",
        "name": f"{org['name_en']} {row['name_en']} Ward",
        "alias": [f"{org['name_zh']}{row['name_zh']}病区"],
        "mode": "instance",
        "type": [ft.concept(ft.V3_ROLE_CODE, "HU", "Hospital unit")],
        "physicalType": ft.concept(ft.TERMINOLOGY + "location-physical-type", "wa", "Ward"),
        "managingOrganization": ft.reference("Organization", dept.dept_org_id),
        "partOf": ft.reference("Location", building_id),
    }


def _available_time(key: str) -> list[dict[str, Any]]:
    if key == "emergency":
        return [{"daysOfWeek": list(_ALL_DAYS), "allDay": True}]
    return [{"daysOfWeek": list(_WEEKDAYS), "availableStartTime": "08:00:00", "availableEndTime": "17:30:00"}]


def _specialty(row: dict[str, Any]) -> list[dict[str, Any]]:
    if "specialty" not in row:
        return []
    return [ft.concept(ft.SNOMED, row["specialty"][0], row["specialty"][1], row["name_zh"])]


def _service(org: dict[str, Any], row: dict[str, Any], dept: Department) -> dict[str, Any]:
    service: dict[str, Any] = {
        "resourceType": "HealthcareService",
        "id": dept.service_id,
        "active": True,
        "providedBy": ft.reference("Organization", dept.dept_org_id),
    }
    if "category" in row:
        service["category"] = [ft.concept(ft.TERMINOLOGY + "service-category", *row["category"])]
    service["type"] = [ft.concept(ft.DEPARTMENT_SYSTEM, row["key"], row["name_en"], row["name_zh"])]
    if specialty := _specialty(row):
        service["specialty"] = specialty
    service |= {
        "location": [ft.reference("Location", dept.building_id)],
        "name": f"{org['name_en']} - {row['name_en']}",
        "telecom": [{"system": "phone", "value": org["phone"], "use": "work"}],
        "availableTime": _available_time(row["key"]),
    }
    return service


def _staff(rng: random.Random, as_of: date, used_ids: set[str], data: dict[str, Any],
           dept_rows: dict[str, dict[str, Any]], departments: dict[tuple[str, str], Department]) -> list[dict[str, Any]]:
    practitioners: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    kinds = {org["id"]: org["kind"] for org in data["organizations"]}
    for (org_id, key), dept in departments.items():
        plan = data["staffing"][kinds[org_id]]
        for role_key, count in plan.get(key, plan.get("default", {})).items():
            for _ in range(count):
                number = len(practitioners) + 1
                prac_id, role_id = f"prac-{number:04d}", f"role-{number:04d}"
                practitioners.append(_practitioner(rng, as_of, used_ids, prac_id, data, role_key))
                roles.append(_role(role_id, prac_id, data["roles"][role_key], dept_rows[key], dept))
                dept.staff.setdefault(role_key, []).append(prac_id)
    return practitioners + roles


def _practitioner(rng: random.Random, as_of: date, used_ids: set[str], prac_id: str, data: dict[str, Any],
                  role_key: str) -> dict[str, Any]:
    role = data["roles"][role_key]
    titles = data["titles"][role["titles"]]
    rank = rng.choices(range(len(titles)), weights=[t[3] for t in titles])[0]
    code, display, zh, _ = titles[rank]
    sex = "female" if rng.random() < role["female_share"] else "male"
    birth = sample_birth_date(rng, rng.randint(*_AGE_BY_RANK[rank]), as_of)
    name = sample_name(rng, sex, birth.year)
    home = rng.choice(load("region")["districts"])
    national_id = unique_resident_id(rng, used_ids, home["code"], birth, sex)
    licensed = max(birth.year + 22, as_of.year - rng.randint(0, 30))
    licence = f"{1 if role['licence_type'] == 'MD' else 2}{licensed}{home['code']}{rng.randrange(10**5):05d}"
    return {
        "resourceType": "Practitioner",
        "id": prac_id,
        "identifier": [
            {"use": "official", "type": ft.concept(ft.V2_0203, role["licence_type"],
                                                    "Medical License number" if role["licence_type"] == "MD"
                                                    else "Provider number"),
             "system": ft.LICENCE_SYSTEM, "value": licence},
            {"use": "official", "type": ft.concept(ft.V2_0203, "NI", "National unique individual identifier"),
             "system": ft.RESIDENT_ID_SYSTEM, "value": national_id},
        ],
        "active": True,
        "name": ft.human_names(name.family_zh, name.given_zh, name.family_pinyin, name.given_pinyin),
        "telecom": [{"system": "phone", "value": f"0599-8{rng.randrange(10**6):06d}", "use": "work"}],
        "gender": sex,
        "birthDate": ft.day(birth),
        "qualification": [{
            "identifier": [{"system": ft.LICENCE_SYSTEM, "value": licence}],
            "code": ft.concept(ft.PROFESSIONAL_TITLE_SYSTEM, code, display, zh),
            "period": {"start": f"{licensed}-07-01"},
        }],
        "communication": [ft.concept(ft.BCP47, "zh-CN", "Chinese (China)", "中文")],
    }


def _role(role_id: str, prac_id: str, role: dict[str, Any], row: dict[str, Any], dept: Department) -> dict[str, Any]:
    system, code, display = role["role"]
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": role_id,
        "active": True,
        "practitioner": ft.reference("Practitioner", prac_id),
        "organization": ft.reference("Organization", dept.org_id),
        "code": [ft.concept(ft.STAFF_ROLE_SYSTEM if system == "local" else system, code, display, role["zh"])],
    }
    if specialty := _specialty(row):
        resource["specialty"] = specialty
    resource |= {
        "location": [ft.reference("Location", dept.building_id)],
        "healthcareService": [ft.reference("HealthcareService", dept.service_id)],
        "availableTime": _available_time(row["key"]),
    }
    return resource


def unique_resident_id(rng: random.Random, used_ids: set[str], address_code: str, birth: date, sex: str) -> str:
    """Draw a resident ID not yet in `used_ids` (and add it): sequence parity encodes the sex."""
    sequence = rng.randrange(0, 1000, 2) + (1 if sex == "male" else 0)
    for _ in range(500):
        value = make_resident_id(address_code=address_code, birth_date=birth, sequence=sequence)
        if value not in used_ids:
            used_ids.add(value)
            return value
        sequence = (sequence + 2) % 1000
    raise RuntimeError(f"no free resident ID for {address_code} {birth}")



