"""The chart's lists: problems, medicines, allergies, encounters, imaging, documents, care plans and risks."""

from typing import Any

from smartcare.hospital.workstation.banner import is_active_condition, is_current_allergy
from smartcare.hospital.workstation.codes import (
    chart_codes,
    codes_of,
    effective,
    first_code,
    icd10,
    label,
    local_day,
    quantity_text,
)
from smartcare.knowledge.orders import catalogue

ENCOUNTERS_SHOWN = 40
_NEWEST = "9999"


def problems(conditions: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """Active conditions: the problem list first, then current encounter diagnoses; newest first in each."""
    rows = []
    for condition in conditions:
        if not is_active_condition(condition):
            continue
        category = first_code(condition.get("category"))
        rows.append({
            "id": condition.get("id"), "code": icd10(condition.get("code")),
            "title": label(condition.get("code"), locale),
            "since": local_day(condition.get("onsetDateTime") or (condition.get("onsetPeriod") or {}).get("start")
                               or condition.get("recordedDate")),
            "kind": "diagnosis" if category == "encounter-diagnosis" else "problem",
        })
    rows.sort(key=lambda r: r["since"] or "", reverse=True)
    rows.sort(key=lambda r: r["kind"] != "problem")
    return rows


def _frequency(dosage: dict[str, Any]) -> dict[str, Any]:
    timing = dosage.get("timing") or {}
    repeat = timing.get("repeat") or {}
    return {"times": repeat.get("frequency"), "period": repeat.get("period"), "unit": repeat.get("periodUnit", ""),
            "code": first_code([timing["code"]]) if timing.get("code") else "",
            "as_needed": bool(dosage.get("asNeededBoolean") or dosage.get("asNeededCodeableConcept"))}


def _dose(dosage: dict[str, Any]) -> str:
    for rate in dosage.get("doseAndRate", []):
        if rate.get("doseQuantity"):
            return quantity_text(rate["doseQuantity"])
        if rate.get("doseRange"):
            low, high = rate["doseRange"].get("low"), rate["doseRange"].get("high")
            return f"{quantity_text(low)}–{quantity_text(high)}"
    return ""


def _drug(resource: dict[str, Any], locale: str) -> tuple[str, str]:
    """(a key that groups the same medicine, its name)."""
    concept = resource.get("medicationCodeableConcept")
    if concept:
        return ",".join(sorted(codes_of(concept))) or label(concept, locale), label(concept, locale)
    reference = resource.get("medicationReference") or {}
    name = reference.get("display") or reference.get("reference") or ""
    return name, name


def medications(requests: list[dict[str, Any]], statements: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """Active medicines: one row per medicine from its newest active order (since its first), then those
    the patient reports taking that no active order covers."""
    rows: dict[str, dict[str, Any]] = {}
    for request in sorted(requests, key=lambda r: r.get("authoredOn") or ""):
        if request.get("status") != "active" or request.get("doNotPerform"):
            continue
        key, name = _drug(request, locale)
        dosage = (request.get("dosageInstruction") or [{}])[0]
        since = rows[key]["since"] if key in rows else local_day(request.get("authoredOn"))
        rows[key] = {"drug": name, "dose": _dose(dosage), "frequency": _frequency(dosage),
                     "route": label(dosage.get("route"), locale), "text": dosage.get("text", ""), "since": since,
                     "source": "order", "orders": rows.get(key, {}).get("orders", 0) + 1}
    for statement in statements:
        if statement.get("status") not in ("active", "intended"):
            continue
        key, name = _drug(statement, locale)
        if key in rows:
            continue
        dosage = (statement.get("dosage") or [{}])[0]
        rows[key] = {"drug": name, "dose": _dose(dosage), "frequency": _frequency(dosage),
                     "route": label(dosage.get("route"), locale), "text": dosage.get("text", ""),
                     "since": local_day((statement.get("effectivePeriod") or {}).get("start")
                                        or statement.get("effectiveDateTime") or statement.get("dateAsserted")),
                     "source": "reported", "orders": 0}
    return sorted(rows.values(), key=lambda r: (r["source"] != "order", r["drug"]))


def allergies(records: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """Standing allergies and intolerances with their reactions and severity (no-known-allergy records left out)."""
    no_known = chart_codes()["no_known_allergy"]["codes"]
    rows = []
    for allergy in records:
        if not is_current_allergy(allergy) or codes_of(allergy.get("code")) & set(no_known):
            continue
        reactions = [{"manifestations": [label(m, locale) for m in r.get("manifestation", [])],
                      "severity": r.get("severity", "")} for r in allergy.get("reaction", [])]
        rows.append({"substance": label(allergy.get("code"), locale), "type": allergy.get("type", ""),
                     "categories": allergy.get("category", []), "criticality": allergy.get("criticality", ""),
                     "reactions": reactions, "recorded": local_day(allergy.get("recordedDate"))})
    return sorted(rows, key=lambda r: (r["criticality"] != "high", r["substance"]))


def encounters(records: list[dict[str, Any]], conditions: list[dict[str, Any]], locale: str) -> dict[str, Any]:
    """The newest encounters, newest first, with their reason (a coded reason or the condition it names)."""
    by_id = {c.get("id"): c for c in conditions}
    ordered = sorted(records, key=lambda e: (e.get("period") or {}).get("start") or "", reverse=True)
    rows = []
    for encounter in ordered[:ENCOUNTERS_SHOWN]:
        reasons = [label(r, locale) for r in encounter.get("reasonCode", [])]
        for reference in encounter.get("reasonReference", []):
            condition = by_id.get(str(reference.get("reference", "")).removeprefix("Condition/"))
            if condition is not None:
                reasons.append(label(condition.get("code"), locale))
        period = encounter.get("period") or {}
        rows.append({"start": local_day(period.get("start")), "end": local_day(period.get("end")),
                     "class": (encounter.get("class") or {}).get("code", ""), "status": encounter.get("status", ""),
                     "type": label((encounter.get("type") or [None])[0], locale),
                     "service": label(encounter.get("serviceType"), locale), "reasons": reasons})
    return {"rows": rows, "more": max(len(records) - ENCOUNTERS_SHOWN, 0)}


def _report_section(report: dict[str, Any]) -> str:
    sections = chart_codes()["report_sections"]
    found = set().union(*(codes_of(c) for c in report.get("category", []))) if report.get("category") else set()
    if found & set(sections["imaging"]):
        return "imaging"
    if found & set(sections["laboratory"]):
        return "laboratory"
    return "other"


def imaging(studies: list[dict[str, Any]], reports: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """Imaging studies and imaging reports, newest first."""
    rows = [{"kind": "study", "date": local_day(s.get("started")), "title": s.get("description", "")
             or label((s.get("procedureCode") or [None])[0], locale),
             "modalities": sorted({m.get("code", "") for m in s.get("modality", [])} |
                                  {(x.get("modality") or {}).get("code", "") for x in s.get("series", [])} - {""}),
             "series": s.get("numberOfSeries", len(s.get("series", []))), "instances": s.get("numberOfInstances"),
             "detail": "", "status": s.get("status", "")} for s in studies]
    rows += [{"kind": "report", "id": r.get("id"), "date": local_day(effective(r)), "title": label(r.get("code"), locale),
              "modalities": [], "series": None, "instances": None, "detail": r.get("conclusion", ""),
              "status": r.get("status", "")}
             for r in reports if _report_section(r) == "imaging"]
    return sorted(rows, key=lambda r: r["date"] or _NEWEST, reverse=True)


def _lab_title(concept: dict[str, Any] | None, locale: str) -> str:
    """A laboratory report's name: for Chinese readers the order catalogue's Chinese name of its test (reports
    carry the English LOINC name only), else the concept's own words."""
    if locale == "zh-Hans":
        for coding in (concept or {}).get("coding", []):
            found = catalogue.find_order(str(coding.get("code") or "")) if coding.get("code") else None
            if found is not None and getattr(found, "name_zh", ""):
                return found.name_zh
    return label(concept, locale)


def lab_reports(reports: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """Released laboratory reports (each opens as the report page, printable), newest first."""
    rows = [{"id": r["id"], "date": local_day(r.get("issued") or effective(r)), "title": _lab_title(r.get("code"), locale),
             "status": r.get("status", "")}
            for r in reports if _report_section(r) == "laboratory" and r.get("status") in ("final", "corrected", "amended")]
    return sorted(rows, key=lambda r: r["date"] or _NEWEST, reverse=True)


def documents(references: list[dict[str, Any]], compositions: list[dict[str, Any]], reports: list[dict[str, Any]],
              locale: str) -> list[dict[str, Any]]:
    """Documents, compositions and reports that are neither laboratory nor imaging, newest first."""
    rows = [{"date": local_day(d.get("date")), "title": d.get("description") or label(d.get("type"), locale),
             "kind": label(d.get("type"), locale), "status": d.get("docStatus") or d.get("status", "")}
            for d in references]
    rows += [{"date": local_day(c.get("date")), "title": c.get("title", ""), "kind": label(c.get("type"), locale),
              "status": c.get("status", "")} for c in compositions]
    rows += [{"date": local_day(effective(r)), "title": label(r.get("code"), locale),
              "kind": label((r.get("category") or [None])[0], locale), "status": r.get("status", "")}
             for r in reports if _report_section(r) == "other"]
    return sorted(rows, key=lambda r: r["date"] or _NEWEST, reverse=True)


def care_plans(plans: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """Care plans, the active ones first."""
    rows = [{"title": p.get("title") or label((p.get("category") or [None])[0], locale) or p.get("description", ""),
             "description": p.get("description", "") if p.get("title") else "", "status": p.get("status", ""),
             "intent": p.get("intent", ""), "start": local_day((p.get("period") or {}).get("start")),
             "end": local_day((p.get("period") or {}).get("end")),
             "activities": len(p.get("activity", []))} for p in plans if p.get("status") != "entered-in-error"]
    return sorted(rows, key=lambda r: (r["status"] != "active", r["start"] or ""))


def risk_assessments(assessments: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    """Risk assessments, newest first: what is predicted, how likely, by which method."""
    rows = []
    for risk in assessments:
        if risk.get("status") == "entered-in-error":
            continue
        predictions = [{"outcome": label(p.get("outcome"), locale),
                        "probability": round(float(p["probabilityDecimal"]) * 100, 1)
                        if isinstance(p.get("probabilityDecimal"), int | float) else None,
                        "qualitative": label(p.get("qualitativeRisk"), locale)} for p in risk.get("prediction", [])]
        when = risk.get("occurrenceDateTime") or (risk.get("occurrencePeriod") or {}).get("start")
        rows.append({"date": local_day(when),
                     "title": label(risk.get("code"), locale) or label(risk.get("method"), locale),
                     "method": label(risk.get("method"), locale), "predictions": predictions,
                     "status": risk.get("status", "")})
    return sorted(rows, key=lambda r: r["date"] or _NEWEST, reverse=True)
