"""Builds the demo region's hospitals, community health centres, departments, wards, rooms, services and staff.

The directory facts (titles, languages, biographies, photos, visit types, fees, opening hours, rooms)
are written as smartcare/hospital/directory/conventions.py describes.
"""

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from smartcare.demo import fhirtypes as ft
from smartcare.demo.identifiers import make_resident_id
from smartcare.demo.people import district, sample_birth_date, sample_name, street_address
from smartcare.demo.reference import load
from smartcare.hospital.directory import conventions as dc

# Youngest and oldest plausible age for each professional-title rank (0 = most senior).
_AGE_BY_RANK = [(45, 60), (38, 58), (30, 55), (25, 40), (22, 30)]
# Consulting rooms are spread over the outpatient building, this many departments to a floor.
_DEPARTMENTS_PER_FLOOR = 5
# Departments patients reach in a hurry receive them on the ground floor by the entrance, whatever their place in
# the list: wing 9 of floor 1 (rooms 191, 192 ...), a wing no listed department takes.
_GROUND_FLOOR = {"emergency"}
_CONSULTING_ROLES = ("doctor", "radiologist")


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
    rooms: list[str] = field(default_factory=list)


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
        for index, key in enumerate(data["department_sets"][org["kind"]]):
            row = dept_rows[key]
            dept = Department(org["id"], key, f"{org['id']}-{key}", f"hcs-{org['id'][4:]}-{key}", buildings[0],
                              None)
            depts.append(_department_org(org, row, dept))
            beds = row.get("beds", {}).get(org["kind"])
            if beds:
                dept.ward_id = f"loc-{org['id'][4:]}-ward-{key}"
                locations.append(_ward(org, row, dept, buildings[-1], beds))
            locations += _rooms(org, row, dept, data, index)
            services.append(_service(org, row, dept, data))
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


def _consulting_doctors(data: dict[str, Any], kind: str, key: str) -> int:
    """How many of the department's staff see outpatients (none in laboratory, radiology and pharmacy)."""
    if key in data["no_consultations"]:
        return 0
    plan = data["staffing"][kind]
    counts = plan.get(key, plan.get("default", {}))
    return sum(counts.get(role, 0) for role in _CONSULTING_ROLES)


def _rooms(org: dict[str, Any], row: dict[str, Any], dept: Department, data: dict[str, Any],
           index: int) -> list[dict[str, Any]]:
    """One consulting room per outpatient doctor: department `index` gets rooms x{index%5}1.. on floor x (the
    ground-floor departments rooms 191.. on floor 1)."""
    rooms = []
    floor, wing = 1 + index // _DEPARTMENTS_PER_FLOOR, index % _DEPARTMENTS_PER_FLOOR
    if row["key"] in _GROUND_FLOOR:
        floor, wing = 1, 9
    for number in range(1, _consulting_doctors(data, org["kind"], row["key"]) + 1):
        room_id = f"loc-{org['id'][4:]}-room-{row['key']}-{number}"
        label = f"{floor}{wing}{number}"
        rooms.append({
            "resourceType": "Location",
            "id": room_id,
            "extension": [{"url": dc.FLOOR_EXT, "valueInteger": floor}],
            "status": "active",
            "name": f"{row['name_en']} consulting room {label}",
            "alias": [f"{row['name_zh']}{label}诊室"],
            "mode": "instance",
            "type": [ft.concept(ft.V3_ROLE_CODE, "HOSP" if org["kind"] != "chc" else "PC",
                                "Hospital" if org["kind"] != "chc" else "Primary care clinic")],
            "physicalType": ft.concept(dc.LOCATION_PHYSICAL_TYPE, "ro", "Room"),
            "managingOrganization": ft.reference("Organization", dept.dept_org_id),
            "partOf": ft.reference("Location", dept.building_id),
        })
        dept.rooms.append(room_id)
    return rooms


def _available_time(key: str) -> list[dict[str, Any]]:
    hours = load("facilities")["opening_hours"]
    return [dict(entry, daysOfWeek=list(entry["daysOfWeek"]))
            for entry in hours[hours["by_department"].get(key, "default")]]


def _fees(data: dict[str, Any], kind: str, key: str) -> dict[str, float]:
    if key in data["no_consultations"]:
        return {}
    if key == "emergency":
        return dict.fromkeys(dc.VISIT_TYPES, data["emergency_fee_cny"][kind])
    return dict(data["fees_cny"][kind])


def _specialty(row: dict[str, Any]) -> list[dict[str, Any]]:
    if "specialty" not in row:
        return []
    return [ft.concept(ft.SNOMED, row["specialty"][0], row["specialty"][1], row["name_zh"])]


def _service(org: dict[str, Any], row: dict[str, Any], dept: Department, data: dict[str, Any]) -> dict[str, Any]:
    service: dict[str, Any] = {
        "resourceType": "HealthcareService",
        "id": dept.service_id,
    }
    if fees := _fees(data, org["kind"], row["key"]):
        service["extension"] = dc.fee_extensions(fees)
    service |= {
        "active": True,
        "providedBy": ft.reference("Organization", dept.dept_org_id),
    }
    if "category" in row:
        service["category"] = [ft.concept(ft.TERMINOLOGY + "service-category", *row["category"])]
    service["type"] = [ft.concept(ft.DEPARTMENT_SYSTEM, row["key"], row["name_en"], row["name_zh"])]
    if specialty := _specialty(row):
        service["specialty"] = specialty
    service |= {
        "location": [ft.reference("Location", dept.building_id)]
        + [ft.reference("Location", room) for room in dept.rooms],
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
        rooms = iter(dept.rooms)
        for role_key, count in plan.get(key, plan.get("default", {})).items():
            for _ in range(count):
                number = len(practitioners) + 1
                prac_id, role_id = f"prac-{number:04d}", f"role-{number:04d}"
                practitioner = _practitioner(rng, as_of, used_ids, prac_id, data, role_key)
                room = next(rooms, None) if role_key in _CONSULTING_ROLES else None
                if data["roles"][role_key]["licence_type"] == "MD":
                    _add_biography(rng, as_of, practitioner, data, dept_rows[key])
                practitioners.append(practitioner)
                role = _role(role_id, prac_id, data["roles"][role_key], dept_rows[key], dept, room)
                if room:
                    dc.set_visit_type(role, "ordinary" if key == "emergency" else _visit_type(data, practitioner))
                roles.append(role)
                dept.staff.setdefault(role_key, []).append(prac_id)
    return practitioners + roles


def _visit_type(data: dict[str, Any], practitioner: dict[str, Any]) -> str:
    title = dc.title_of(practitioner)
    return next(row["code"] for row in data["visit_types"] if title and title["code"] in row["titles"])


def _add_biography(rng: random.Random, as_of: date, practitioner: dict[str, Any], data: dict[str, Any],
                   row: dict[str, Any]) -> None:
    """A short generated biography in English and Chinese: title, department, years in practice, interests."""
    title = dc.title_of(practitioner)
    years = max(1, as_of.year - int(practitioner["qualification"][0]["period"]["start"][:4]))
    focus = rng.sample(data["focus"].get(row["key"], []), k=min(2, len(data["focus"].get(row["key"], []))))
    template = data["biography"]
    dc.set_biography(practitioner, "en", template["en"].format(
        title=title["display"], department=row["name_en"], years=years,
        focus=", ".join(f[0] for f in focus) or row["name_en"].lower()))
    dc.set_biography(practitioner, "zh-CN", template["zh"].format(
        title=title["zh"], department=row["name_zh"], years=years, focus="、".join(f[1] for f in focus) or row["name_zh"]))


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
        "communication": _languages(rng, data, rank),
        "photo": [dc.avatar_photo(name.family_pinyin[:1] + name.given_pinyin[:1], prac_id)],
    }


def _languages(rng: random.Random, data: dict[str, Any], rank: int) -> list[dict[str, Any]]:
    second = data["second_language"]
    spoken = [dc.language_concept("zh-CN", "Chinese (China)", "中文")]
    if rng.random() < second["share_by_rank"][rank]:
        spoken.append(dc.language_concept(second["code"], second["display"], second["zh"]))
    return spoken


def _role(role_id: str, prac_id: str, role: dict[str, Any], row: dict[str, Any], dept: Department,
          room: str | None) -> dict[str, Any]:
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
        "location": [ft.reference("Location", room or dept.building_id)],
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



