"""ORU^R01 results to FHIR: a preliminary DiagnosticReport with its Observations for the matching lab order.

Each OBR is matched to its ServiceRequest by the placer order number (ORC-2, else OBR-2), else through the
Specimen with the accession number in OBR-3 or SPM-2. Abnormal flags the instrument sends (OBX-8) are not
trusted blindly: a numeric result of an analyte the laboratory knows is flagged by the lab's own ranges for the
patient's sex and age (results.interpret, as for results typed in), and an instrument flag that disagrees is kept
as a note for the technician's review. The instrument's flag is used only for results no range of ours covers.
A graded analyte (a urine strip pad) sent as CE/CWE or ST is read as one of its grades whatever the analyzer's
spelling (NEG, +-, ++, POS ...), stored in the laboratory's own grade codes and flagged N or A; a text that is no
grade of it is kept as sent, unflagged, with a note for the technician.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

import hl7
import yaml

from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.hospital.lab import results as lab_results
from smartcare.hospital.lab.hl7_messages import Hl7Error, Inbound, repetitions, segment_name, value
from smartcare.knowledge import lab as knowledge
from smartcare.platform import clock

PLACER = "https://smartcare.example/fhir/sid/placer-order"
ACCESSION = "https://smartcare.example/fhir/sid/accession"
UCUM = "http://unitsofmeasure.org"
LAB_CATEGORY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB",
                            "display": "Laboratory"}]}
OBS_CATEGORY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "laboratory", "display": "Laboratory"}]}
OPEN_REPORT = ("registered", "partial", "preliminary")
LOINC = "http://loinc.org"
LOCAL_CODES = Path(__file__).resolve().parent / "data" / "local_codes.yaml"
LOCAL_SYSTEM = "https://smartcare.example/fhir/CodeSystem/lab-local-code"
Serve = Callable[[FhirRequest], FhirResponse]


@dataclass(frozen=True, slots=True)
class CodeTables:
    """The mapping tables of local_codes.yaml: local codes to LOINC, unit spellings to UCUM, coding systems."""

    codes: dict[tuple[str, str], tuple[str, str]]
    units: dict[str, str]
    systems: dict[str, str]


@lru_cache(maxsize=1)
def code_tables() -> CodeTables:
    """The local code, unit and coding-system tables, read once."""
    data = yaml.safe_load(LOCAL_CODES.read_text(encoding="utf-8"))
    codes = {(str(c["sender"]), str(c["local"]).upper()): (str(c["loinc"]), c["display"]) for c in data["codes"]}
    return CodeTables(codes=codes, units={str(k).lower(): str(v) for k, v in data["units"].items()},
                      systems={str(k).upper(): str(v) for k, v in data["coding_systems"].items()})


def coded(code: str, text: str, system: str) -> dict[str, Any]:
    """A CodeableConcept from a CE/CWE triplet (code^text^coding system), naming known systems by URI."""
    concept: dict[str, Any] = {}
    if code:
        uri = code_tables().systems.get(system.upper()) or (system if ":" in system else LOCAL_SYSTEM)
        coding = {"system": uri, "code": code[:64]}
        if text:
            coding["display"] = text[:200]
        concept["coding"] = [coding]
    if text:
        concept["text"] = text[:200]
    return concept


def loinc_for(code: str, text: str, system: str, *, sender: str, where: tuple[str, int, int]) -> dict[str, Any]:
    """The LOINC-coded CodeableConcept for an OBX-3; local codes through the mapping table (Hl7Error 103 if not)."""
    if not code:
        raise Hl7Error("OBX-3 observation identifier is missing", code=101, segment=where[0], sequence=where[1],
                       field_no=where[2])
    if system.upper() == "LN" or system == LOINC:
        return {"coding": [{"system": LOINC, "code": code[:64], **({"display": text[:200]} if text else {})}],
                **({"text": text[:200]} if text else {})}
    tables = code_tables()
    mapped = tables.codes.get((sender, code.upper())) or tables.codes.get(("*", code.upper()))
    if mapped is None:
        raise Hl7Error(f"local code {code[:40]!r} ({system[:20] or 'no coding system'}) has no LOINC mapping in "
                       "local_codes.yaml", code=103, segment=where[0], sequence=where[1], field_no=where[2])
    local = {"system": LOCAL_SYSTEM, "code": code[:64], **({"display": text[:200]} if text else {})}
    return {"coding": [{"system": LOINC, "code": mapped[0], "display": mapped[1]}, local],
            "text": text[:200] or mapped[1]}


def ucum_unit(unit: str, system: str) -> dict[str, str] | None:
    """A Quantity's unit fields for an OBX-6: UCUM as sent, known spellings mapped, else the text alone."""
    if not unit:
        return None
    if system.upper() == "UCUM":
        return {"unit": unit[:40], "system": UCUM, "code": unit[:40]}
    mapped = code_tables().units.get(unit.lower())
    if mapped:
        return {"unit": unit[:40], "system": UCUM, "code": mapped}
    return {"unit": unit[:40]}


@dataclass(slots=True)
class OrderGroup:
    """One OBR with its ORC, OBX (each with its NTE comments), own NTEs and SPM, and its place in the message."""

    obr: hl7.Segment
    sequence: int
    orc: hl7.Segment | None = None
    results: list[tuple[hl7.Segment, int, list[str]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    spm: hl7.Segment | None = None


def order_groups(inbound: Inbound) -> tuple[hl7.Segment, list[OrderGroup]]:
    """The PID and the OBR groups of an ORU^R01, in order; Hl7Error 100 when segments are out of place."""
    pid = None
    groups: list[OrderGroup] = []
    pending_orc = None
    counts: dict[str, int] = {}
    for seg in inbound.segments[1:]:
        name = segment_name(seg)
        counts[name] = counts.get(name, 0) + 1
        n = counts[name]
        if name == "PID":
            if pid is not None:
                raise Hl7Error("only one patient (PID) per message is accepted", code=100, segment="PID",
                               sequence=n)
            pid = seg
        elif name == "ORC":
            pending_orc = seg
        elif name == "OBR":
            if pid is None:
                raise Hl7Error("OBR comes before the PID segment", code=100, segment="OBR", sequence=n)
            groups.append(OrderGroup(obr=seg, sequence=n, orc=pending_orc))
            pending_orc = None
        elif name == "OBX":
            if not groups:
                raise Hl7Error("OBX comes before any OBR", code=100, segment="OBX", sequence=n)
            groups[-1].results.append((seg, n, []))
        elif name == "NTE" and groups:
            text = "\n".join(value(seg, 3, r) for r in range(1, repetitions(seg, 3, inbound.header.separators) + 1))
            if groups[-1].results:
                groups[-1].results[-1][2].append(text)
            else:
                groups[-1].notes.append(text)
        elif name == "SPM" and groups:
            groups[-1].spm = seg
    if pid is None:
        raise Hl7Error("the message has no PID segment (truncated?)", code=100, segment="PID")
    if not groups:
        raise Hl7Error("the message has no OBR segment (truncated?)", code=100, segment="OBR")
    if not any(g.results for g in groups):
        raise Hl7Error("the message has no OBX result segment (truncated?)", code=100, segment="OBX")
    return pid, groups


def _number(text: str, *, where: tuple[str, int, int]) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise Hl7Error(f"{text[:40]!r} is not a number", code=102, segment=where[0], sequence=where[1],
                       field_no=where[2]) from None
    if not number.is_finite():
        raise Hl7Error(f"{text[:40]!r} is not a finite number", code=102, segment=where[0], sequence=where[1],
                       field_no=where[2])
    return number


def _json_number(number: Decimal) -> int | float:
    return int(number) if number == number.to_integral_value() and "." not in str(number) else float(number)


def _quantity(number: Decimal, unit: dict[str, str] | None, comparator: str = "") -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": _json_number(number)}
    if comparator:
        quantity["comparator"] = comparator
    if unit:
        quantity.update(unit)
    return quantity


def _structured_numeric(obx: hl7.Segment, n: int, unit: dict[str, str] | None) -> dict[str, Any]:
    """SN: comparator^number1^separator^number2 -> valueQuantity (with comparator), valueRange or valueRatio."""
    where = ("OBX", n, 5)
    comparator, first, sep, second = (value(obx, 5, 1, c) for c in (1, 2, 3, 4))
    if comparator not in ("", "<", ">", "<=", ">=", "=", "<>"):
        raise Hl7Error(f"SN comparator {comparator[:4]!r} is not one of < > <= >= = <>", code=102, segment="OBX",
                       sequence=n, field_no=5)
    if not sep:
        if comparator == "<>":
            raise Hl7Error("SN comparator <> needs a second number", code=102, segment="OBX", sequence=n,
                           field_no=5)
        return {"valueQuantity": _quantity(_number(first, where=where), unit, comparator.strip("="))}
    low, high = _number(first, where=where), _number(second, where=where)
    if sep in ("-", "+"):
        if sep == "+":
            raise Hl7Error("SN with a '+' separator (a category) is not supported", code=102, segment="OBX",
                           sequence=n, field_no=5)
        return {"valueRange": {"low": _quantity(low, unit), "high": _quantity(high, unit)}}
    if sep in (":", "/"):
        return {"valueRatio": {"numerator": _quantity(low, None), "denominator": _quantity(high, None)}}
    raise Hl7Error(f"SN separator {sep[:3]!r} is not one of - : /", code=102, segment="OBX", sequence=n, field_no=5)


def observation_value(obx: hl7.Segment, n: int, separators: str) -> dict[str, Any]:
    """The value[x] of an OBX by its value type (NM, ST, TX, CE/CWE, SN); Hl7Error 102 when it does not fit."""
    kind = value(obx, 2)
    unit = ucum_unit(value(obx, 6, 1, 1), value(obx, 6, 1, 3))
    reps = repetitions(obx, 5, separators)
    if reps == 0:
        return {}
    if kind == "NM":
        return {"valueQuantity": _quantity(_number(value(obx, 5), where=("OBX", n, 5)), unit)}
    if kind in ("ST", "TX", "FT"):
        return {"valueString": "\n".join(value(obx, 5, r) for r in range(1, reps + 1))[:4000]}
    if kind in ("CE", "CWE"):
        return {"valueCodeableConcept": coded(value(obx, 5, 1, 1), value(obx, 5, 1, 2), value(obx, 5, 1, 3))}
    if kind == "SN":
        return _structured_numeric(obx, n, unit)
    if not kind:
        raise Hl7Error("OBX-2 value type is missing", code=101, segment="OBX", sequence=n, field_no=2)
    raise Hl7Error(f"OBX value type {kind[:4]} is not accepted (NM, ST, TX, CE, CWE, SN)", code=102,
                   segment="OBX", sequence=n, field_no=2)


def reference_range(text: str, unit: dict[str, str] | None) -> list[dict[str, Any]]:
    """OBX-7 as a FHIR referenceRange: "3.5-5.1", "70_105", "4.3 to 6.2", "<5", ">60", or text."""
    text = text.strip()
    if not text:
        return []
    for sep in (" to ", "_", " - ", "-"):
        low, found, high = text.partition(sep)
        if found and low.strip() and high.strip():
            try:
                lo, hi = Decimal(low.strip()), Decimal(high.strip())
            except InvalidOperation:
                continue
            return [{"low": _quantity(lo, unit), "high": _quantity(hi, unit)}]
    for prefix, bound in (("<=", "high"), ("<", "high"), (">=", "low"), (">", "low")):
        if text.startswith(prefix):
            try:
                return [{bound: _quantity(Decimal(text[len(prefix):].strip()), unit)}]
            except InvalidOperation:
                break
    return [{"text": text[:200]}]


# HL7 table 0078 (abnormal flags) codes that mean the same as a FHIR v3 ObservationInterpretation code.
INSTRUMENT_FLAGS = {"L": "L", "H": "H", "LL": "LL", "HH": "HH", "N": "N", "A": "A", "AA": "AA"}


def _interpretation(flag: str) -> list[dict[str, Any]]:
    display = lab_results.FLAG_NAMES.get(flag) or {"A": "Abnormal", "AA": "Critical abnormal"}.get(flag, flag)
    return [{"coding": [{"system": lab_results.INTERPRETATION, "code": flag, "display": display}]}]


def _sent_texts(result: dict[str, Any]) -> list[str]:
    """What the analyzer wrote for a coded or text result: the codes, displays and text, in that order."""
    concept = result.get("valueCodeableConcept") or {}
    texts = [c.get(key) for c in concept.get("coding", []) for key in ("code", "display")]
    return [t for t in [*texts, concept.get("text"), result.get("valueString")] if isinstance(t, str) and t.strip()]


def _grade_result(result: dict[str, Any], loinc: str, instrument_flag: str) -> bool:
    """Read a graded analyte's CE/CWE or ST value as one of its grades and flag it (True when the result is a
    graded analyte's coded or text value, handled here)."""
    item = knowledge.analyte(loinc)
    sent = _sent_texts(result)
    if item is None or not item.ordinal or not sent:
        return False
    answer = next((found for text in sent if (found := knowledge.grade(item.loinc, text)) is not None), None)
    if answer is None:
        result.pop("interpretation", None)
        result.setdefault("note", []).append({"text": f"The analyzer sent {sent[0][:40]!r}, which is not a grade of "
                                                      f"{item.name_en}; the result is kept as sent, without a flag."})
        return True
    original = (result.pop("valueCodeableConcept", None) or {}).get("coding", [])
    result.pop("valueString", None)
    concept = lab_results.grade_concept(answer)
    concept["coding"] += [c for c in original if c.get("system") != knowledge.ordinal_system()]
    result["valueCodeableConcept"] = concept
    ours = knowledge.grade_flag(answer)
    result["interpretation"] = _interpretation(ours)
    theirs = INSTRUMENT_FLAGS.get(instrument_flag.upper())
    if theirs and ("N" if theirs == "N" else "A") != ours:
        result.setdefault("note", []).append({"text": f"The analyzer flagged {theirs}; the grade {answer.en} is "
                                                      f"{'normal' if ours == 'N' else 'abnormal'} for this test."})
    return True


def flag_result(result: dict[str, Any], instrument_flag: str, who: lab_results.Patient | None,
                received: Any) -> None:
    """Give a numeric result the lab's own flag for this patient, a graded one its grade and N/A flag; keep a
    disagreeing instrument flag as a note."""
    quantity = result.get("valueQuantity") or {}
    loinc = next((c.get("code") for c in (result.get("code") or {}).get("coding", [])
                  if c.get("system") == LOINC), None)
    if loinc and _grade_result(result, loinc, instrument_flag):
        return
    ours, band = None, None
    if loinc and who is not None and isinstance(quantity.get("value"), int | float) and not quantity.get("comparator"):
        on = clock.parse_instant(result["effectiveDateTime"]) if len(result.get("effectiveDateTime", "")) > 10 \
            else received
        ours, band = lab_results.interpret(loinc, float(quantity["value"]), quantity.get("code") or quantity.get("unit"),
                                           who, on)
    theirs = INSTRUMENT_FLAGS.get(instrument_flag.upper())
    if ours:
        result["interpretation"] = _interpretation(ours)
        if band is not None and (band.low is not None or band.high is not None) and not result.get("referenceRange"):
            result["referenceRange"] = lab_results.reference_band(band)
        if theirs and theirs != ours:
            result.setdefault("note", []).append({"text": f"The analyzer flagged {theirs}; the laboratory's range "
                                                          f"for this patient gives {ours}."})
    elif theirs:
        result["interpretation"] = _interpretation(theirs)


def observation(obx: hl7.Segment, n: int, notes: list[str], *, inbound: Inbound, patient: str,
                specimen: str | None) -> dict[str, Any]:
    """The preliminary Observation for one OBX (flagged afterwards by flag_result, which knows the patient)."""
    code = loinc_for(value(obx, 3, 1, 1), value(obx, 3, 1, 2), value(obx, 3, 1, 3), sender=inbound.header.sending_application, where=("OBX", n, 3))
    result: dict[str, Any] = {"resourceType": "Observation", "status": "preliminary", "category": [OBS_CATEGORY],
                              "code": code, "subject": {"reference": patient}}
    measured = observation_value(obx, n, inbound.header.separators)
    result.update(measured)
    if not measured:
        result["dataAbsentReason"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                                                  "code": "unknown", "display": "Unknown"}]}
    unit = ucum_unit(value(obx, 6, 1, 1), value(obx, 6, 1, 3))
    ranges = reference_range(value(obx, 7), unit)
    if ranges:
        result["referenceRange"] = ranges
    observed = fhir_datetime(value(obx, 14))
    if observed:
        result["effectiveDateTime"] = observed
    if specimen:
        result["specimen"] = {"reference": specimen}
    if notes:
        result["note"] = [{"text": text[:4000]} for text in notes if text]
    return result


def fhir_datetime(ts: str) -> str | None:
    """An HL7 TS (YYYYMMDDHHMM[SS][+ZZZZ]) as a FHIR dateTime, or None when absent or unreadable."""
    digits, zone = ts, ""
    for sign in ("+", "-"):
        if sign in ts[8:]:
            digits, _, rest = ts.partition(sign)
            zone = f"{sign}{rest[:2]}:{rest[2:4]}" if len(rest) >= 4 else ""
    digits = digits.split(".", 1)[0]
    if not digits.isdigit() or len(digits) < 8:
        return None
    date = f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    if len(digits) < 12:
        return date
    seconds = digits[12:14] or "00"
    return f"{date}T{digits[8:10]}:{digits[10:12]}:{seconds}{zone or 'Z'}"


def _search(serve: Serve, res_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    # No total: the interface reads the matches only, and counting them is one more query per message.
    bundle = serve(FhirRequest(method="GET", path=res_type, query=[*query, ("_total", "none")])).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") != "outcome"]


def pid_identifiers(pid: hl7.Segment, separators: str) -> list[str]:
    """The identifier values PID-3 lists."""
    return [v for rep in range(1, repetitions(pid, 3, separators) + 1) if (v := value(pid, 3, rep, 1))]


@dataclass(slots=True)
class FoundOrder:
    """A lab order with what hangs off it: its patient, its specimen and the report already made for it."""

    order: dict[str, Any]
    patient: dict[str, Any] | None
    specimen: str | None
    report: dict[str, Any] | None


# One search brings the order, its patient, its specimen and any report (instead of four round trips).
# R4 has no Specimen search by request, so the specimen comes through ServiceRequest.specimen.
_WITH_CONTEXT = [("_include", "ServiceRequest:subject"), ("_include", "ServiceRequest:specimen"),
                 ("_revinclude", "DiagnosticReport:based-on")]


def _order_with_context(serve: Serve, query: list[tuple[str, str]]) -> FoundOrder | None:
    found = _search(serve, "ServiceRequest", query + _WITH_CONTEXT)
    orders = [r for r in found if r["resourceType"] == "ServiceRequest"]
    if not orders:
        return None
    order = orders[0]
    mine = f"ServiceRequest/{order['id']}"
    listed = {x.get("reference") for x in order.get("specimen", [])}
    # The order lists every specimen taken for it; results belong to the latest one not rejected.
    specimens = [r for r in found if r["resourceType"] == "Specimen" and f"Specimen/{r['id']}" in listed
                 and r.get("status") != "unsatisfactory"]
    specimens.sort(key=lambda r: [x.get("reference") for x in order.get("specimen", [])].index(f"Specimen/{r['id']}"),
                   reverse=True)
    reports = [r for r in found if r["resourceType"] == "DiagnosticReport"
               and any(x.get("reference") == mine for x in r.get("basedOn", []))]
    subject = (order.get("subject") or {}).get("reference", "")
    patient = next((r for r in found if r["resourceType"] == "Patient" and f"Patient/{r['id']}" == subject), None)
    return FoundOrder(order=order, patient=patient, specimen=f"Specimen/{specimens[0]['id']}" if specimens else None,
                      report=reports[0] if reports else None)


def find_order(serve: Serve, group: OrderGroup) -> FoundOrder:
    """The ServiceRequest an OBR reports on (placer number, else accession number); Hl7Error 204 if none."""
    placer = value(group.orc, 2) if group.orc is not None else ""
    placer = placer or value(group.obr, 2)
    if placer:
        found = _order_with_context(serve, [("identifier", f"{PLACER}|{placer}")])
        if found:
            return found
    accession = ""
    for accession in (value(group.obr, 3), value(group.spm, 2, 1, 1) if group.spm is not None else ""):
        if not accession:
            continue
        for s in _search(serve, "Specimen", [("identifier", f"{ACCESSION}|{accession}")]):
            request = (s.get("request") or [{}])[0].get("reference", "")
            if request.startswith("ServiceRequest/"):
                found = _order_with_context(serve, [("_id", request.split("/", 1)[1])])
                if found:
                    found.specimen = f"Specimen/{s['id']}"
                    return found
    if not placer and not accession:
        raise Hl7Error("the OBR names no placer order number (OBR-2) or accession number (OBR-3)", code=101,
                       segment="OBR", sequence=group.sequence, field_no=2)
    raise Hl7Error(f"no lab order matches placer order number {placer[:40]!r} or accession number "
                   f"{accession[:40]!r}", code=204, segment="OBR", sequence=group.sequence, field_no=2 if placer else 3)


def _check_patient(serve: Serve, found: FoundOrder, identifiers: list[str]) -> str:
    """The order's patient reference, once PID-3 is known to name that patient; Hl7Error 204/205 otherwise."""
    held = {i.get("value") for i in (found.patient or {}).get("identifier", [])}
    if found.patient is not None and held & set(identifiers):
        return f"Patient/{found.patient['id']}"
    matches = {p["id"] for ident in identifiers for p in _search(serve, "Patient", [("identifier", ident)])}
    if not matches:
        raise Hl7Error(f"no patient has the identifier {(identifiers or [''])[0][:40]!r} (PID-3)", code=204,
                       segment="PID", field_no=3)
    raise Hl7Error(f"lab order ServiceRequest/{found.order['id']} belongs to another patient than PID-3 names",
                   code=204, segment="PID", field_no=3)


def report_entries(found: FoundOrder, group: OrderGroup, *, inbound: Inbound, patient: str) -> list[dict[str, Any]]:
    """The transaction entries storing one OBR's results: the report and its observations."""
    order, report, specimen = found.order, found.report, found.specimen
    if report is not None and report.get("status") not in OPEN_REPORT:
        raise Hl7Error(f"the report for ServiceRequest/{order['id']} is already {report.get('status')}: "
                       "corrections after release are made at the lab workstation", code=206, segment="OBR",
                       sequence=group.sequence)
    entries: list[dict[str, Any]] = []
    refs: list[dict[str, str]] = []
    who = lab_results.patient_facts(found.patient) if found.patient is not None else None
    received = clock.now()
    for i, (obx, n, notes) in enumerate(group.results):
        url = f"urn:uuid:obs-{group.sequence}-{i}"
        obs = observation(obx, n, notes, inbound=inbound, patient=patient, specimen=specimen)
        flag_result(obs, value(obx, 8), who, received)
        obs["basedOn"] = [{"reference": f"ServiceRequest/{order['id']}"}]
        entries.append({"fullUrl": url, "resource": obs, "request": {"method": "POST", "url": "Observation"}})
        refs.append({"reference": url})
    kept = [r for r in (report or {}).get("result", []) if r.get("reference")]
    body: dict[str, Any] = {
        **(report or {}), "resourceType": "DiagnosticReport", "status": "preliminary", "category": [LAB_CATEGORY],
        "code": order.get("code") or {"text": value(group.obr, 4, 1, 2) or "Laboratory report"},
        "subject": {"reference": patient}, "basedOn": [{"reference": f"ServiceRequest/{order['id']}"}],
        "result": kept + refs,
    }
    body.pop("meta", None)
    if specimen:
        body["specimen"] = [{"reference": specimen}]
    issued = fhir_datetime(value(group.obr, 22))
    if issued:
        body["effectiveDateTime"] = issued
    if group.notes:
        body["conclusion"] = "\n".join(group.notes)[:4000]
    if report is None:
        entries.append({"resource": body, "request": {"method": "POST", "url": "DiagnosticReport"}})
    else:
        entries.append({"resource": body, "request": {"method": "PUT", "url": f"DiagnosticReport/{report['id']}"}})
    return entries


def store_results(serve: Serve, inbound: Inbound) -> list[str]:
    """Store an ORU^R01 as preliminary reports and observations; the references written. Hl7Error if it cannot."""
    pid, groups = order_groups(inbound)
    identifiers = pid_identifiers(pid, inbound.header.separators)
    if not identifiers:
        raise Hl7Error("PID-3 patient identifier list is empty", code=101, segment="PID", field_no=3)
    entries: list[dict[str, Any]] = []
    for group in groups:
        if group.results:
            found = find_order(serve, group)
            patient = _check_patient(serve, found, identifiers)
            entries.extend(report_entries(found, group, inbound=inbound, patient=patient))
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    answer = serve(FhirRequest(method="POST", path="", body=bundle)).body or {}
    return [e["response"]["location"].split("/_history")[0] for e in answer.get("entry", [])
            if e.get("response", {}).get("location")]
