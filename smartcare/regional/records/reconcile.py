"""Shaping one resident's records from several institutions into one record: each item with the institutions it
came from, and the same medicine, allergy or problem sent by two institutions folded into one item.

Plain functions over FHIR resources (dicts) that are already policy-filtered: no database, no HTTP.
"""

from collections.abc import Callable, Iterable
from typing import Any

# Code systems that name a medicine's ingredient or product; two records sharing one of these codes (with the
# same dose) are the same medicine. A record coded only in a local system is compared by its words instead.
MEDICINE_SYSTEMS = frozenset({
    "http://www.whocc.no/atc", "http://www.nlm.nih.gov/research/umls/rxnorm", "http://snomed.info/sct",
    "https://smartcare.example/fhir/CodeSystem/drug",
})
RESULT_CATEGORIES = frozenset({"laboratory", "vital-signs", "imaging", "exam", "procedure"})
RESULTS_SHOWN = 200
_HAN = ("\u4e00", "\u9fff")


def has_han(text: str) -> bool:
    """True when text holds Chinese characters."""
    return any(_HAN[0] <= ch <= _HAN[1] for ch in text)


def label(concept: dict[str, Any] | None, zh: bool) -> str:
    """A CodeableConcept in the reader's language: Chinese words for Chinese readers where the concept has them,
    a coding's display for English readers where it has one; else whatever words it has."""
    if not isinstance(concept, dict):
        return ""
    text = concept.get("text") if isinstance(concept.get("text"), str) else ""
    displays = [c["display"] for c in concept.get("coding") or [] if isinstance(c, dict)
                and isinstance(c.get("display"), str) and c["display"]]
    codes = [c["code"] for c in concept.get("coding") or [] if isinstance(c, dict) and isinstance(c.get("code"), str)]
    words = [w for w in (text, *displays) if w]
    preferred = [w for w in words if has_han(w) == zh]
    return (preferred or words or codes or [""])[0]


def codings(concept: dict[str, Any] | None) -> set[tuple[str, str]]:
    """The (system, code) pairs of a CodeableConcept."""
    if not isinstance(concept, dict):
        return set()
    return {(str(c.get("system") or ""), c["code"]) for c in concept.get("coding") or []
            if isinstance(c, dict) and isinstance(c.get("code"), str) and c["code"]}


def day(value: Any) -> str:
    """The date part (YYYY-MM-DD, or as much as given) of a FHIR date or dateTime, or ""."""
    return value[:10] if isinstance(value, str) else ""


def source_of(resource: dict[str, Any]) -> str:
    """The institution that sent a record: its meta.source when that names an Organization, else ""."""
    source = (resource.get("meta") or {}).get("source")
    return source if isinstance(source, str) and source.startswith("Organization/") else ""


def _first_category(resource: dict[str, Any]) -> str:
    for concept in resource.get("category") or []:
        for coding in (concept or {}).get("coding") or [] if isinstance(concept, dict) else []:
            if isinstance(coding, dict) and coding.get("code"):
                return str(coding["code"])
    return ""


def _dose(dosage: dict[str, Any]) -> str:
    for rate in dosage.get("doseAndRate") or []:
        quantity = (rate or {}).get("doseQuantity") if isinstance(rate, dict) else None
        if isinstance(quantity, dict) and quantity.get("value") is not None:
            value = quantity["value"]
            shown = f"{value:g}" if isinstance(value, float) else str(value)
            unit = str(quantity.get("unit") or quantity.get("code") or "").strip()
            return f"{shown} {unit}".strip()
    return ""


def _frequency(dosage: dict[str, Any]) -> str:
    repeat = ((dosage.get("timing") or {}).get("repeat") or {}) if isinstance(dosage.get("timing"), dict) else {}
    times, period, unit = repeat.get("frequency"), repeat.get("period"), repeat.get("periodUnit")
    if times and period and unit:
        return f"{times}/{period:g}{unit}" if isinstance(period, float) else f"{times}/{period}{unit}"
    return str(dosage.get("text") or "")[:80]


def _normal_dose(dose: str) -> str:
    return dose.lower().replace(" ", "")


class _Folder:
    """Groups items that are the same thing: items sharing a code (or, uncoded, the same words) and the same
    qualifier (a medicine's dose) fall into one group, whichever institution sent them."""

    def __init__(self) -> None:
        self.groups: list[dict[str, Any]] = []
        self._by_key: dict[tuple[Any, str], int] = {}

    def add(self, keys: set[Any], qualifier: str, item: dict[str, Any], source: str, record: str) -> dict[str, Any]:
        """Put item in the group it belongs to (a new one if none); returns that group."""
        found = next((self._by_key[(k, qualifier)] for k in sorted(keys, key=repr) if (k, qualifier) in self._by_key),
                     None)
        if found is None:
            found = len(self.groups)
            self.groups.append({**item, "sources": [], "records": []})
        group = self.groups[found]
        for key in keys:
            self._by_key.setdefault((key, qualifier), found)
        if source not in group["sources"]:
            group["sources"].append(source)
        group["records"].append(record)
        for field, value in item.items():
            if not group.get(field) and value:
                group[field] = value
        return group


def _keys(concept: dict[str, Any] | None, systems: frozenset[str] | None, words: str) -> set[Any]:
    found: set[Any] = {c for c in codings(concept) if systems is None or c[0] in systems}
    return found or ({("text", words.strip().lower())} if words.strip() else set())


def _ref(resource: dict[str, Any]) -> str:
    return f"{resource.get('resourceType')}/{resource.get('id')}"


def medications(requests: Iterable[dict[str, Any]], statements: Iterable[dict[str, Any]], *,
                zh: bool) -> list[dict[str, Any]]:
    """Medicines from every institution, the same ingredient at the same dose folded into one item listing every
    source; newest first. Cancelled and entered-in-error records are left out."""
    folder = _Folder()
    rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for resource in requests:
        if resource.get("status") in ("cancelled", "entered-in-error") or resource.get("doNotPerform"):
            continue
        dosage = (resource.get("dosageInstruction") or [{}])[0]
        rows.append((day(resource.get("authoredOn")), resource, dosage if isinstance(dosage, dict) else {}))
    for resource in statements:
        if resource.get("status") in ("entered-in-error", "not-taken"):
            continue
        dosage = (resource.get("dosage") or [{}])[0]
        when = resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start") \
            or resource.get("dateAsserted")
        rows.append((day(when), resource, dosage if isinstance(dosage, dict) else {}))
    for when, resource, dosage in sorted(rows, key=lambda r: r[0], reverse=True):
        concept = resource.get("medicationCodeableConcept")
        name = label(concept, zh) or str((resource.get("medicationReference") or {}).get("display") or "")
        dose = _dose(dosage)
        item = {"name": name, "dose": dose, "frequency": _frequency(dosage), "status": resource.get("status", ""),
                "date": when, "kind": "reported" if resource.get("resourceType") == "MedicationStatement" else "order"}
        folder.add(_keys(concept, MEDICINE_SYSTEMS, name), _normal_dose(dose), item, source_of(resource),
                   _ref(resource))
    return folder.groups


def allergies(records: Iterable[dict[str, Any]], *, zh: bool) -> list[dict[str, Any]]:
    """Allergies and intolerances from every institution, the same substance folded into one item listing every
    source (the highest criticality and every reaction kept); refuted and entered-in-error ones left out."""
    folder = _Folder()
    for resource in records:
        status = codings(resource.get("verificationStatus"))
        if any(code in ("refuted", "entered-in-error") for _, code in status):
            continue
        substance = label(resource.get("code"), zh)
        reactions = sorted({label(m, zh) for r in resource.get("reaction") or [] if isinstance(r, dict)
                            for m in r.get("manifestation") or []} - {""})
        item = {"substance": substance, "criticality": resource.get("criticality", ""),
                "categories": [c for c in resource.get("category") or [] if isinstance(c, str)],
                "date": day(resource.get("recordedDate") or resource.get("onsetDateTime"))}
        group = folder.add(_keys(resource.get("code"), None, substance), "", item, source_of(resource),
                           _ref(resource))
        group["reactions"] = sorted(set(group.get("reactions", [])) | set(reactions))
        if resource.get("criticality") == "high":
            group["criticality"] = "high"
    return sorted(folder.groups, key=lambda g: (g["criticality"] != "high", g["substance"]))


def problems(conditions: Iterable[dict[str, Any]], *, zh: bool) -> list[dict[str, Any]]:
    """Problems and diagnoses from every institution, the same code folded into one item listing every source;
    refuted and entered-in-error ones left out; active ones first, then newest first."""
    folder = _Folder()
    ordered = sorted(conditions, key=lambda c: day(c.get("onsetDateTime") or c.get("recordedDate")), reverse=True)
    for resource in ordered:
        if any(code in ("refuted", "entered-in-error") for _, code in codings(resource.get("verificationStatus"))):
            continue
        clinical = next((code for _, code in codings(resource.get("clinicalStatus"))), "")
        title = label(resource.get("code"), zh)
        icd = next((code for system, code in codings(resource.get("code")) if "icd-10" in system), "")
        item = {"title": title, "code": icd, "status": clinical,
                "date": day(resource.get("onsetDateTime") or resource.get("recordedDate")),
                "category": _first_category(resource)}
        folder.add(_keys(resource.get("code"), None, title), "", item, source_of(resource), _ref(resource))
    return sorted(folder.groups, key=lambda g: g["status"] not in ("active", "recurrence", "relapse", ""))


def _sourced(resource: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**fields, "sources": [source_of(resource)], "records": [_ref(resource)]}


def encounters(records: Iterable[dict[str, Any]], *, zh: bool) -> list[dict[str, Any]]:
    """Every visit and stay at every institution, newest first."""
    rows = []
    for resource in records:
        if resource.get("status") in ("cancelled", "entered-in-error"):
            continue
        period = resource.get("period") or {}
        kind = resource.get("class") or {}
        rows.append(_sourced(
            resource, date=day(period.get("start")), end=day(period.get("end")),
            kind=str(kind.get("code") or "") if isinstance(kind, dict) else "",
            title=next((label(t, zh) for t in resource.get("type") or [] if label(t, zh)), ""),
            reason=", ".join(label(r, zh) for r in resource.get("reasonCode") or [] if label(r, zh))))
    return sorted(rows, key=lambda r: r["date"], reverse=True)


def results(observations: Iterable[dict[str, Any]], reports: Iterable[dict[str, Any]], *,
            zh: bool, value_of: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    """Results (laboratory, vital signs, examinations) and their reports from every institution, newest first.
    Social-history observations belong to the basic record, not here."""
    rows = []
    for resource in observations:
        category = _first_category(resource)
        if resource.get("status") in ("entered-in-error", "cancelled") or category not in RESULT_CATEGORIES | {""}:
            continue
        interpretation = next((code for c in resource.get("interpretation") or [] for _, code in codings(c)), "")
        rows.append(_sourced(resource, kind="observation", category=category, title=label(resource.get("code"), zh),
                             value=value_of(resource), flag=interpretation,
                             date=day(resource.get("effectiveDateTime") or resource.get("issued"))))
    for resource in reports:
        if resource.get("status") in ("entered-in-error", "cancelled"):
            continue
        rows.append(_sourced(resource, kind="report", category=_first_category(resource),
                             title=label(resource.get("code"), zh), value=str(resource.get("conclusion") or "")[:200],
                             flag="", date=day(resource.get("effectiveDateTime") or resource.get("issued"))))
    return sorted(rows, key=lambda r: r["date"], reverse=True)[:RESULTS_SHOWN]


def imaging(studies: Iterable[dict[str, Any]], *, zh: bool) -> list[dict[str, Any]]:
    """Imaging studies from every institution, newest first."""
    rows = []
    for resource in studies:
        if resource.get("status") in ("cancelled", "entered-in-error"):
            continue
        modalities = sorted({m.get("code", "") for m in resource.get("modality") or [] if isinstance(m, dict)} - {""})
        rows.append(_sourced(resource, date=day(resource.get("started")), modality=", ".join(modalities),
                             title=str(resource.get("description") or "")
                             or ", ".join(label(p, zh) for p in resource.get("procedureCode") or []),
                             series=resource.get("numberOfSeries") or len(resource.get("series") or [])))
    return sorted(rows, key=lambda r: r["date"], reverse=True)


def immunisations(records: Iterable[dict[str, Any]], *, zh: bool) -> list[dict[str, Any]]:
    """Vaccinations given at every institution, newest first (ones not done or entered in error left out)."""
    rows = [_sourced(r, date=day(r.get("occurrenceDateTime")), vaccine=label(r.get("vaccineCode"), zh),
                     dose=str(next((p.get("doseNumberPositiveInt") for p in r.get("protocolApplied") or []
                                    if isinstance(p, dict) and p.get("doseNumberPositiveInt")), "") or ""))
            for r in records if r.get("status") == "completed"]
    return sorted(rows, key=lambda r: r["date"], reverse=True)


def care_plans(records: Iterable[dict[str, Any]], *, zh: bool) -> list[dict[str, Any]]:
    """Care plans from every institution: active ones first, then newest first."""
    rows = []
    for resource in records:
        if resource.get("status") in ("entered-in-error", "revoked"):
            continue
        period = resource.get("period") or {}
        title = str(resource.get("title") or "") or next(
            (label(c, zh) for c in resource.get("category") or [] if label(c, zh)), "")
        rows.append(_sourced(resource, title=title, status=resource.get("status", ""), date=day(period.get("start")),
                             end=day(period.get("end"))))
    rows.sort(key=lambda r: r["date"], reverse=True)
    return sorted(rows, key=lambda r: r["status"] != "active")


def timeline(sections: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Dated points for the timeline chart: one per encounter, result, imaging study and vaccination, each with
    its institution (the first source of the item), oldest first."""
    points = []
    for kind in ("encounters", "results", "imaging", "immunisations"):
        for item in sections.get(kind, []):
            if item.get("date"):
                points.append({"kind": kind, "date": item["date"], "source": item["sources"][0],
                               "title": item.get("title") or item.get("reason") or item.get("vaccine") or ""})
    return sorted(points, key=lambda p: p["date"])
