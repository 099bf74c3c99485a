"""One person's health record from every institution, read through the FHIR gateway as the caller: the timeline
(with its filters, search and paging) and the problem, medicine and allergy lists, each item with where it came
from.

Every read is a search as the signed-in person (or caregiver), limited to that person's registrations, so the
access policy decides what appears and each search leaves its audit entry.
"""

from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.patient.record import shape
from smartcare.patient.record.people import Person
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text

PER_TYPE = 1000
PAGE_SIZE = 20
MAX_QUERY = 100
MAX_PAGE = 500
KINDS = ("encounter", "result", "imaging", "prescription", "vaccination", "care-plan")
TIMELINE_TYPES = ("Encounter", "Observation", "DiagnosticReport", "ImagingStudy", "MedicationRequest",
                  "Immunization", "CarePlan")
LIST_TYPES = ("Condition", "MedicationStatement", "MedicationRequest", "AllergyIntolerance")
_RAD = frozenset({"RAD", "imaging"})
# Classes of visit (v3 ActCode) as the timeline words them; an unknown class is shown by its code.
_VISIT_CLASSES = {"AMB": "Outpatient visit", "IMP": "Hospital stay", "EMER": "Emergency visit",
                  "HH": "Home visit", "VR": "Online visit", "ACUTE": "Hospital stay", "OBSENC": "Observation stay"}


def read_types(ctx: AccessContext, person: Person, types: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """The person's records of types from all their registrations, one search per type in one transaction."""
    requests = [FhirRequest(method="GET", path=t, query=[("patient", person.references), ("_count", str(PER_TYPE)),
                                                         ("_total", "none")]) for t in types]
    answers = gateway.serve_all(ctx, requests)
    return {t: [e["resource"] for e in (a.body or {}).get("entry", [])
                if (e.get("resource") or {}).get("resourceType") == t] for t, a in zip(types, answers, strict=True)}


def organisation_names(ctx: AccessContext, references: set[str]) -> dict[str, str]:
    """Organization/<id> -> its name (directory records, readable by everyone signed in)."""
    ids = sorted(r.removeprefix("Organization/") for r in references if r.startswith("Organization/"))[:100]
    if not ids:
        return {}
    found = gateway.search(ctx, "Organization", [("_id", ",".join(ids)), ("_count", "100")])
    return {f"Organization/{o['id']}": str(o.get("name") or o["id"])[:120] for o in found}


def _is_imaging(report: dict[str, Any]) -> bool:
    return any(c.get("code") in _RAD for cat in report.get("category") or [] if isinstance(cat, dict)
               for c in cat.get("coding") or [] if isinstance(c, dict))


def _item(kind: str, resource: dict[str, Any], when: Any, title: str, detail: str = "") -> dict[str, Any]:
    return {"kind": kind, "when": shape.moment(when), "title": title or "-", "detail": detail[:200],
            "resource": resource}


def _report_items(reports: list[dict[str, Any]], zh: bool) -> list[dict[str, Any]]:
    items = []
    for r in reports:
        item = _item("imaging" if _is_imaging(r) else "result", r, r.get("effectiveDateTime") or r.get("issued"),
                     shape.label(r.get("code"), zh), str(r.get("conclusion") or ""))
        items.append({**item, "results": len(r.get("result") or [])})
    return items


def timeline_items(by_type: dict[str, list[dict[str, Any]]], *, zh: bool) -> list[dict[str, Any]]:
    """Every record as a timeline item (kind, when, title, detail, resource), newest first; results that belong to
    a report are shown with their report, not one by one."""
    in_reports = {ref.get("reference") for r in by_type.get("DiagnosticReport", []) for ref in r.get("result") or []
                  if isinstance(ref, dict)}
    items = [_item("encounter", e, (e.get("period") or {}).get("start"),
                   shape.first_label(e.get("type"), zh) or shape.first_label(e.get("reasonCode"), zh)
                   or _VISIT_CLASSES.get(str((e.get("class") or {}).get("code")), ""),
                   _VISIT_CLASSES.get(str((e.get("class") or {}).get("code")), ""))
             for e in by_type.get("Encounter", [])]
    items += [_item("result", o, o.get("effectiveDateTime") or o.get("issued"), shape.label(o.get("code"), zh),
                    str(o.get("valueString") or "") or fhir_text.observation_value(o))
              for o in by_type.get("Observation", []) if f"Observation/{o.get('id')}" not in in_reports]
    items += _report_items(by_type.get("DiagnosticReport", []), zh)
    items += [_item("imaging", s, s.get("started"), str(s.get("description") or "") or ", ".join(
        str(m.get("code")) for m in s.get("modality") or [] if isinstance(m, dict))) for s in by_type.get(
        "ImagingStudy", [])]
    items += [_item("prescription", m, m.get("authoredOn"), shape.label(m.get("medicationCodeableConcept"), zh),
                    str(((m.get("dosageInstruction") or [{}])[0] or {}).get("text") or m.get("status") or ""))
              for m in by_type.get("MedicationRequest", [])]
    items += [_item("vaccination", i, i.get("occurrenceDateTime"), shape.label(i.get("vaccineCode"), zh))
              for i in by_type.get("Immunization", [])]
    items += [_item("care-plan", p, (p.get("period") or {}).get("start") or p.get("created"),
                    str(p.get("title") or "") or shape.first_label(p.get("category"), zh), str(p.get("status") or ""))
              for p in by_type.get("CarePlan", [])]
    return sorted(items, key=lambda i: i["when"], reverse=True)


def matching(items: list[dict[str, Any]], *, kind: str, institution: str, query: str) -> list[dict[str, Any]]:
    """The items of one kind, from one institution (its reference, or 'you' for the person's own entries), whose
    words contain query (any case); an empty filter keeps everything."""
    words = query.strip().casefold()
    return [i for i in items if (not kind or i["kind"] == kind)
            and (not institution or i["origin"].get("ref", i["origin"]["kind"]) == institution)
            and (not words or words in f"{i['title']} {i['detail']} {i['origin']['name']}".casefold())]


def timeline(ctx: AccessContext, person: Person, *, zh: bool, viewer: str, kind: str = "", institution: str = "",
             query: str = "", page: int = 1) -> dict[str, Any]:
    """One page of the person's timeline with the filters applied, and the choices the filters offer."""
    by_type = read_types(ctx, person, TIMELINE_TYPES)
    items = timeline_items(by_type, zh=zh)
    names = organisation_names(ctx, {shape.source_of(i["resource"]) for i in items})
    for item in items:
        item["origin"] = shape.origin(item["resource"], viewer=viewer, names=names)
        item["ref"] = f"{item['resource'].get('resourceType')}/{item['resource'].get('id')}"
    institutions = sorted({(i["origin"]["ref"], i["origin"]["name"]) for i in items if i["origin"].get("ref")},
                          key=lambda pair: pair[1])
    kept = matching(items, kind=kind if kind in KINDS else "", institution=institution[:80], query=query[:MAX_QUERY])
    pages = max(1, -(-len(kept) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    return {"shown": kept[(page - 1) * PAGE_SIZE: page * PAGE_SIZE], "total": len(kept), "page": page,
            "pages": pages, "institutions": institutions, "kinds": KINDS}


def _medicine_row(resource: dict[str, Any], zh: bool) -> dict[str, Any]:
    dosage = (resource.get("dosage") or resource.get("dosageInstruction") or [{}])[0] or {}
    return {"what": shape.label(resource.get("medicationCodeableConcept"), zh) or "-",
            "how": str(dosage.get("text") or "")[:200], "status": str(resource.get("status") or ""),
            "since": shape.day(resource.get("authoredOn") or resource.get("dateAsserted")
                               or (resource.get("effectivePeriod") or {}).get("start")
                               or resource.get("effectiveDateTime")), "resource": resource}


def lists(ctx: AccessContext, person: Person, *, zh: bool, viewer: str) -> dict[str, list[dict[str, Any]]]:
    """The person's problems, medicines and allergies from every institution and their own reports, each with
    where it came from; current ones first."""
    by_type = read_types(ctx, person, LIST_TYPES)
    problems = [{"what": shape.label(c.get("code"), zh) or "-", "status": label_code(c.get("clinicalStatus")),
                 "since": shape.day(c.get("onsetDateTime") or c.get("recordedDate")), "resource": c}
                for c in by_type["Condition"]]
    medicines = [_medicine_row(m, zh) for m in by_type["MedicationStatement"] + by_type["MedicationRequest"]]
    allergies = [{"what": shape.label(a.get("code"), zh) or "-", "status": label_code(a.get("clinicalStatus")),
                  "reaction": ", ".join(shape.label(m, zh) for r in a.get("reaction") or [] if isinstance(r, dict)
                                        for m in r.get("manifestation") or [])[:200],
                  "criticality": str(a.get("criticality") or ""), "since": shape.day(a.get("recordedDate")),
                  "resource": a} for a in by_type["AllergyIntolerance"]]
    rows = [*problems, *medicines, *allergies]
    names = organisation_names(ctx, {shape.source_of(r["resource"]) for r in rows})
    for row in rows:
        row["origin"] = shape.origin(row["resource"], viewer=viewer, names=names)
    current = ("active", "recurrence", "relapse", "on-hold", "intended")
    return {key: sorted(sorted(found, key=lambda r: r["since"], reverse=True), key=lambda r: r["status"] not in current)
            for key, found in (("problems", problems), ("medicines", medicines), ("allergies", allergies))}


def label_code(concept: Any) -> str:
    """The code of a status CodeableConcept (clinicalStatus active, resolved ...), or ""."""
    if not isinstance(concept, dict):
        return ""
    return next((str(c.get("code")) for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code")), "")
