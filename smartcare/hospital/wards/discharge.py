"""Discharge: the discharge summary (a Composition, LOINC 18842-5) drafted, then signed by the attending doctor.

A draft is a `preliminary` Composition for the stay with five sections (LOINC section codes, see
data/encounter_codes.yaml); the discharge diagnoses are ICD-10 coded Conditions contained in it. Signing
makes it `final` with a legal attester, finishes the Encounter (period end, discharge disposition,
bed entry completed), ends the stay's care team and sends the bed to housekeeping, all in one transaction.
"""

import html
import re
from typing import Any

from smartcare.fhir import gateway
from smartcare.hospital.wards import admissions, beds, codes, monitors
from smartcare.hospital.wards.errors import WardRefused
from smartcare.knowledge.diseases import icd10
from smartcare.platform import clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext

MAX_SECTION = 4000
MAX_DIAGNOSES = 10
TEXT_SECTIONS = ("reason", "course", "medications", "follow_up")
_XHTML = "http://www.w3.org/1999/xhtml"
_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S)


def _narrative(text: str) -> dict[str, str]:
    paragraphs = [line.strip() for line in text.splitlines() if line.strip()] or ["-"]
    body = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
    return {"status": "additional", "div": f'<div xmlns="{_XHTML}">{body}</div>'}


def section_text(section: dict[str, Any]) -> str:
    """A section's narrative back as plain text, one paragraph a line."""
    paragraphs = _PARAGRAPH.findall((section.get("text") or {}).get("div", ""))
    text = "\n".join(html.unescape(p) for p in paragraphs)
    return "" if text == "-" else text


def parse_diagnoses(text: str) -> list[icd10.Diagnosis]:
    """ICD-10 codes separated by commas, spaces or new lines; WardRefused names the first unknown one."""
    found: list[icd10.Diagnosis] = []
    for word in re.split(r"[\s,;，；]+", text.strip()[:300]):
        if not word:
            continue
        diagnosis = icd10.find(word)
        if diagnosis is None:
            raise WardRefused(_("{code} is not an ICD-10 code."), code=word[:12])
        if diagnosis not in found:
            found.append(diagnosis)
    if not found:
        raise WardRefused(_("Give at least one discharge diagnosis as an ICD-10 code."))
    if len(found) > MAX_DIAGNOSES:
        raise WardRefused(_("Give at most ten discharge diagnoses."))
    return found


def draft_of(ctx: AccessContext, encounter_id: str) -> dict[str, Any] | None:
    """The stay's discharge summary (draft or signed), if there is one the caller may see."""
    found = gateway.search(ctx, "Composition", [("encounter", f"Encounter/{encounter_id}"),
                                                ("type", f"{codes.LOINC}|{codes.DISCHARGE_SUMMARY}"),
                                                ("_sort", "-date"), ("_count", "1")])
    return found[0] if found else None


def summary_fields(composition: dict[str, Any] | None) -> dict[str, str]:
    """The summary's sections as form text, and its diagnosis codes as one line."""
    fields = dict.fromkeys((*TEXT_SECTIONS, "diagnoses"), "")
    if not composition:
        return fields
    by_code = {s["loinc"]: s["key"] for s in codes.choices("summary_sections")}
    conditions = {f"#{c['id']}": c for c in composition.get("contained", [])}
    for section in composition.get("section", []):
        key = by_code.get(codes.coding_of(section.get("code"), codes.LOINC) or "")
        if key == "diagnoses":
            fields[key] = ", ".join(codes.coding_of(conditions.get(e.get("reference"), {}).get("code"), codes.ICD10)
                                    or "" for e in section.get("entry", []))
        elif key:
            fields[key] = section_text(section)
    return fields


def _doctor(ctx: AccessContext) -> str:
    if "doctor" not in ctx.roles or not (ctx.fhir_user or "").startswith("Practitioner/"):
        raise WardRefused(_("Only doctors write and sign discharge summaries."), status=403)
    return ctx.fhir_user or ""


def _sections(fields: dict[str, str], diagnoses: list[icd10.Diagnosis], locale: str) -> list[dict[str, Any]]:
    made = []
    for entry in codes.choices("summary_sections"):
        section: dict[str, Any] = {"title": codes.label(entry, locale),
                                   "code": {"coding": [{"system": codes.LOINC, "code": entry["loinc"],
                                                        "display": entry["display"]}]}}
        if entry["key"] == "diagnoses":
            lines = [f"{d.code} {d.title_zh if locale.startswith('zh') else d.title_en}" for d in diagnoses]
            section["text"] = _narrative("\n".join(lines))
            section["entry"] = [{"reference": f"#dx{i}"} for i in range(len(diagnoses))]
        else:
            section["text"] = _narrative(fields.get(entry["key"], ""))
        made.append(section)
    return made


def save_draft(ctx: AccessContext, *, hospital: str, encounter_id: str, fields: dict[str, str],
               locale: str = "en") -> str:
    """Write (or rewrite) the stay's discharge summary as a preliminary Composition; returns its id."""
    author = _doctor(ctx)
    for key in TEXT_SECTIONS:
        if len(fields.get(key, "")) > MAX_SECTION:
            raise WardRefused(_("Each part of the summary is at most 4000 characters."))
    if not fields.get("course", "").strip():
        raise WardRefused(_("Describe the hospital course."))
    diagnoses = parse_diagnoses(fields.get("diagnoses", ""))
    encounter = admissions.stay(ctx, hospital=hospital, encounter_id=encounter_id)
    existing = draft_of(ctx, encounter_id)
    if existing and existing.get("status") != "preliminary":
        raise WardRefused(_("The discharge summary is already signed."), status=409)
    patient = encounter["subject"]["reference"]
    composition = {
        "resourceType": "Composition", "status": "preliminary",
        "contained": [{"resourceType": "Condition", "id": f"dx{i}",
                       "category": [codes.concept(codes.CONDITION_CATEGORY, "encounter-diagnosis",
                                                  "Encounter Diagnosis")],
                       "code": {"coding": [{"system": codes.ICD10, "code": d.code, "display": d.title_en}],
                                "text": d.title_zh or d.title_en},
                       "subject": {"reference": patient}} for i, d in enumerate(diagnoses)],
        "type": {"coding": [{"system": codes.LOINC, "code": codes.DISCHARGE_SUMMARY, "display": "Discharge summary"}]},
        "subject": {"reference": patient}, "encounter": {"reference": f"Encounter/{encounter['id']}"},
        "date": clock.format_instant(clock.now()), "author": [{"reference": author}],
        "title": "出院小结" if locale.startswith("zh") else "Discharge summary",
        "custodian": {"reference": hospital},
        "section": _sections(fields, diagnoses, locale),
    }
    if existing:
        composition = {**composition, "id": existing["id"], "meta": existing.get("meta", {})}
        entry = admissions.versioned_put(composition)
    else:
        entry = {"fullUrl": "urn:uuid:summary", "resource": composition,
                 "request": {"method": "POST", "url": "Composition"}}
    response = admissions.run(ctx, [entry], conflict=admissions.CHANGED)
    return existing["id"] if existing else admissions.created_id(response, 0)


def _attending(encounter: dict[str, Any]) -> str | None:
    for participant in encounter.get("participant", []):
        kinds = {codes.coding_of(t, codes.PARTICIPATION) for t in participant.get("type", [])}
        if codes.ATTENDER in kinds:
            return (participant.get("individual") or {}).get("reference")
    return None


def sign(ctx: AccessContext, *, hospital: str, encounter_id: str, disposition: str) -> None:
    """The attending doctor signs the summary: it becomes final, the stay ends and the bed goes to housekeeping."""
    signer = _doctor(ctx)
    chosen = codes.choice("discharge_dispositions", disposition)
    if chosen is None:
        raise WardRefused(_("Say where the patient goes on discharge."))
    encounter = admissions.stay(ctx, hospital=hospital, encounter_id=encounter_id)
    if _attending(encounter) != signer:
        raise WardRefused(_("Only the attending doctor signs the discharge summary."), status=403)
    summary = draft_of(ctx, encounter_id)
    if summary is None or summary.get("status") != "preliminary":
        raise WardRefused(_("Write the discharge summary before signing it."), status=409)
    now = clock.format_instant(clock.now())
    bed_ref = admissions.active_bed(encounter)
    finished = admissions.leave_bed(encounter, now)
    finished = {**finished, "status": "finished", "period": {**encounter.get("period", {}), "end": now},
                "hospitalization": {**encounter.get("hospitalization", {}), "dischargeDisposition":
                                    codes.concept(codes.DISCHARGE_DISPOSITION, chosen["code"], chosen["display"])}}
    signed = {**summary, "status": "final", "date": now,
              "attester": [{"mode": "legal", "time": now, "party": {"reference": signer}}]}
    entries = [admissions.versioned_put(signed), admissions.versioned_put(finished)]
    if bed_ref:
        bed = beds.place(ctx, hospital=hospital, bed_id=bed_ref.split("/", 1)[1]).bed
        entries.append(beds.status_entry(bed, codes.HOUSEKEEPING))
    team = admissions.care_team(ctx, encounter_id)
    if team is not None:
        entries.append(admissions.versioned_put({**team, "status": "inactive",
                                                 "period": {**team.get("period", {}), "end": now}}))
    admissions.run(ctx, entries, conflict=admissions.CHANGED)
    monitors.follow_stay(ctx, left=bed_ref, taken=None, patient=encounter["subject"]["reference"])
