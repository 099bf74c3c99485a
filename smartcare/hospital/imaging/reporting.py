"""Radiology reporting: the worklist of unreported studies, structured reports from the exam's template, signing
and addenda.

A report is a FHIR DiagnosticReport (category RAD of HL7 v2 table 0074) linked to its ImagingStudy and order.
A draft is `preliminary`; signing, which only a radiologist may do, makes it `final` with `issued`, the
radiologist as `resultsInterpreter`, the impression as `conclusion` and the whole text as `presentedForm`, and
completes the ServiceRequest in the same transaction; the ordering doctor is then notified (the notice names the
patient, so SMS carries the title only). An addendum after signing writes a new version, `amended`, with the
addendum and its reason kept in an extension; the FHIR history keeps every signed version. The sections are kept
as extensions (SECTION_URL) so the form can be filled again and the patient app can summarise them. Every read
and write goes through the gateway as the signed-in person, so the access policy decides and it is audited.
"""

import base64
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.knowledge.orders import catalogue, report_templates
from smartcare.knowledge.orders.report_templates import ReportTemplate
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.tables import user_account
from smartcare.platform.web import fhir_text

LOCAL = "https://smartcare.example/fhir/"
ORDER_SYSTEM = LOCAL + "CodeSystem/order-catalogue"
SECTION_URL = LOCAL + "StructureDefinition/imaging-report-section"
TEMPLATE_URL = LOCAL + "StructureDefinition/imaging-report-template"
ADDENDUM_URL = LOCAL + "StructureDefinition/imaging-report-addendum"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
RAD = {"coding": [{"system": V2_0074, "code": "RAD", "display": "Radiology"}]}
SIGNERS = frozenset({"radiologist"})
READERS = frozenset({"radiologist", "doctor"})
RELEASED = ("final", "amended", "corrected")
PRIORITY_RANK = {"stat": 0, "asap": 1, "urgent": 2, "routine": 3}
MAX_SECTION = 4000
MAX_REASON = 500
MAX_STUDIES = 200
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated where it is shown."""
    return message


REPORT_SIGNED = notification_kind("imaging.report", label=_("Signed imaging reports"), private_body=True)
REPORT_AMENDED = notification_kind("imaging.amended", label=_("Amended imaging reports"), private_body=True)


class ReportRefused(Exception):
    """A report action that cannot be done: the message (marked for the catalog) and the HTTP status."""

    def __init__(self, message: str, *, status: int = 400, **values: Any) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.values = values

    def text(self, locale: str) -> str:
        """The message in the reader's language."""
        translated = i18n.translations(locale).gettext(self.message)
        return translated % self.values if self.values else translated


@dataclass
class ReportForm:
    """What the radiologist wrote, section by section."""

    technique: str = ""
    comparison: str = ""
    findings: dict[str, str] = field(default_factory=dict)
    impression: str = ""


@dataclass
class StudyFacts:
    """A study with what its page shows: the order, the patient, the exam's template and its reports."""

    study: dict[str, Any]
    order: dict[str, Any] | None
    patient: dict[str, Any]
    template: ReportTemplate
    exam_key: str | None
    reports: list[dict[str, Any]]

    @property
    def current(self) -> dict[str, Any] | None:
        """The report being worked on or signed: a released one if any, else the newest draft."""
        released = [r for r in self.reports if r.get("status") in RELEASED]
        return (released or self.reports or [None])[0]


def checked_id(value: str, what: str) -> str:
    """A FHIR id as typed in a URL; ReportRefused (404) when it cannot be one."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ReportRefused(_("There is no such report.") if what == "report" else _("There is no such study."),
                            status=404)
    return value


def exam_key(order: dict[str, Any] | None) -> str | None:
    """The order catalogue key of the exam an order asks for."""
    for coding in ((order or {}).get("code") or {}).get("coding", []):
        if coding.get("system") == ORDER_SYSTEM and coding.get("code"):
            return str(coding["code"])
    return None


def exam_name(order: dict[str, Any] | None, study: dict[str, Any], locale: str) -> str:
    """The exam's name in the reader's language: the catalogue's, else the order's words, else the study's."""
    found = catalogue.find_order(exam_key(order) or "") if exam_key(order) else None
    if found is not None:
        return found.name_zh if locale.startswith("zh") else found.name_en
    return fhir_text.concept_text((order or {}).get("code")) or study.get("description", "")


def study_modality(study: dict[str, Any]) -> str:
    """The study's first modality code (CT, MR ...), or ''."""
    found = [m.get("code", "") for m in study.get("modality", [])]
    found += [(s.get("modality") or {}).get("code", "") for s in study.get("series", [])]
    return next((code for code in found if code), "")


def _order_of(study: dict[str, Any]) -> str | None:
    return next((b["reference"] for b in study.get("basedOn", [])
                 if str(b.get("reference", "")).startswith("ServiceRequest/")), None)


def _reports_about(ctx: AccessContext, patient_ref: str, study_ref: str) -> list[dict[str, Any]]:
    found = gateway.search(ctx, "DiagnosticReport", [("subject", patient_ref), ("category", f"{V2_0074}|RAD"),
                                                     ("_count", "200")])
    mine = [r for r in found if any(s.get("reference") == study_ref for s in r.get("imagingStudy", []))]
    return sorted(mine, key=lambda r: (r.get("meta") or {}).get("lastUpdated", ""), reverse=True)


def open_study(ctx: AccessContext, study_id: str) -> StudyFacts:
    """A study with its order, patient, template and reports, read as ctx (404 when not there or not in reach)."""
    try:
        study = gateway.read(ctx, f"ImagingStudy/{checked_id(study_id, 'study')}")
        order_ref = _order_of(study)
        order = gateway.read(ctx, order_ref) if order_ref else None
        patient = gateway.read(ctx, study["subject"]["reference"])
    except FhirError as exc:
        raise ReportRefused(_("There is no such study."), status=404) from exc
    key = exam_key(order)
    return StudyFacts(study=study, order=order, patient=patient, exam_key=key,
                      template=report_templates.template_for(key, study_modality(study)),
                      reports=_reports_about(ctx, study["subject"]["reference"], f"ImagingStudy/{study['id']}"))


def worklist(ctx: AccessContext, *, locale: str) -> list[dict[str, Any]]:
    """Studies without a signed report, stat before urgent before routine, then the longest waiting first.

    A radiologist sees every study in reach; a doctor only those of the orders they placed.
    """
    found = gateway.search(ctx, "ImagingStudy", [("_count", str(MAX_STUDIES)), ("_sort", "-started"),
                                                 ("_include", "ImagingStudy:subject"),
                                                 ("_include", "ImagingStudy:basedon")])
    studies = [r for r in found if r["resourceType"] == "ImagingStudy" and r.get("status") != "cancelled"]
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in found if r["resourceType"] != "ImagingStudy"}
    reported: set[str] = set()
    drafts: set[str] = set()
    if studies:
        for report in gateway.search(ctx, "DiagnosticReport", [("category", f"{V2_0074}|RAD"), ("_count", "1000")]):
            refs = {s.get("reference") for s in report.get("imagingStudy", [])}
            (reported if report.get("status") in RELEASED else drafts).update(r for r in refs if r)
    doctor_only = not ctx.roles & SIGNERS
    rows = []
    for study in studies:
        ref = f"ImagingStudy/{study['id']}"
        order = by_ref.get(_order_of(study) or "")
        if ref in reported:
            continue
        if doctor_only and ((order or {}).get("requester") or {}).get("reference") != ctx.fhir_user:
            continue
        rows.append(_row(study, order, by_ref.get(study["subject"]["reference"]), locale, draft=ref in drafts))
    return sorted(rows, key=lambda r: (PRIORITY_RANK.get(r["priority"], 3), r["started"] or "9999"))


def _row(study: dict[str, Any], order: dict[str, Any] | None, patient: dict[str, Any] | None, locale: str, *,
         draft: bool) -> dict[str, Any]:
    reasons = [fhir_text.concept_text(c) for c in (order or {}).get("reasonCode", [])]
    reasons += [n.get("text", "") for n in (order or {}).get("note", [])]
    return {"id": study["id"], "patient": fhir_text.person_name(patient) if patient else study["subject"]["reference"],
            "exam": exam_name(order, study, locale), "modality": study_modality(study),
            "started": study.get("started", ""), "when": clock.wall_clock(study.get("started")),
            "series": study.get("numberOfSeries", len(study.get("series", []))),
            "instances": study.get("numberOfInstances", 0), "priority": (order or {}).get("priority", "routine"),
            "reason": "; ".join(r for r in reasons if r), "draft": draft}


def normal_form(template: ReportTemplate, locale: str) -> ReportForm:
    """The form filled with the template's normal-study sentences, for the radiologist to edit."""
    return ReportForm(technique=template.technique.in_locale(locale), comparison="",
                      findings={p.key: p.normal.in_locale(locale) for p in template.findings},
                      impression=template.impression.in_locale(locale))


def parse_form(template: ReportTemplate, fields: dict[str, str], *, signing: bool) -> ReportForm:
    """The report as posted, checked: every section at most MAX_SECTION characters, an impression to sign."""
    values = {name: str(fields.get(name, "")).replace("\r\n", "\n").strip()
              for name in ("technique", "comparison", "impression", *(f"finding_{p.key}" for p in template.findings))}
    if any(len(v) > MAX_SECTION for v in values.values()):
        raise ReportRefused(_("Each section is at most %(limit)s characters."), limit=MAX_SECTION)
    if any("\x00" in v for v in values.values()):
        raise ReportRefused(_("The report contains characters that cannot be stored."))
    form = ReportForm(technique=values["technique"], comparison=values["comparison"],
                      findings={p.key: values[f"finding_{p.key}"] for p in template.findings},
                      impression=values["impression"])
    if signing and not form.impression:
        raise ReportRefused(_("Write the impression before signing."))
    if signing and not any(form.findings.values()):
        raise ReportRefused(_("Write the findings before signing."))
    return form


def form_of(report: dict[str, Any] | None) -> ReportForm | None:
    """The sections kept in a report's extensions."""
    if not report:
        return None
    form = ReportForm()
    for ext in report.get("extension", []):
        if ext.get("url") != SECTION_URL:
            continue
        parts = {e.get("url"): e.get("valueString", "") for e in ext.get("extension", [])}
        name, text = str(parts.get("section", "")), str(parts.get("text", ""))
        if name.startswith("finding:"):
            form.findings[name.removeprefix("finding:")] = text
        elif name in ("technique", "comparison", "impression"):
            setattr(form, name, text)
    return form


def addenda_of(report: dict[str, Any] | None) -> list[dict[str, str]]:
    """The addenda of a signed report, oldest first: text, reason, time and author."""
    out = []
    for ext in (report or {}).get("extension", []):
        if ext.get("url") == ADDENDUM_URL:
            parts = {e.get("url"): e.get("valueString") or e.get("valueDateTime") or
                     (e.get("valueReference") or {}).get("reference", "") for e in ext.get("extension", [])}
            out.append({k: str(parts.get(k) or "") for k in ("text", "reason", "time", "author")})
    return out


def report_text(form: ReportForm, template: ReportTemplate, *, exam: str, locale: str,
                addenda: list[dict[str, str]] = ()) -> str:
    """The whole report as plain text, section by section, with any addenda at the end."""
    t = i18n.translations(locale).gettext
    lines = [exam, "", f"{t('Technique')}: {form.technique or '-'}", f"{t('Comparison')}: {form.comparison or '-'}",
             "", f"{t('Findings')}:"]
    lines += [f"- {p.name.in_locale(locale)}: {form.findings.get(p.key) or '-'}" for p in template.findings]
    lines += ["", f"{t('Impression')}: {form.impression or '-'}"]
    for item in addenda:
        lines += ["", f"{t('Addendum')} ({clock.wall_clock(item['time'])}): {item['text']}",
                  f"{t('Reason')}: {item['reason']}"]
    return "\n".join(lines)


def _sections(form: ReportForm) -> list[dict[str, Any]]:
    named = [("technique", form.technique), ("comparison", form.comparison),
             *((f"finding:{key}", text) for key, text in form.findings.items()), ("impression", form.impression)]
    return [{"url": SECTION_URL, "extension": [{"url": "section", "valueString": name},
                                               {"url": "text", "valueString": text}]} for name, text in named if text]


def _report_resource(facts: StudyFacts, form: ReportForm, *, status: str, existing: dict[str, Any] | None,
                     locale: str) -> dict[str, Any]:
    study_ref = f"ImagingStudy/{facts.study['id']}"
    code = (facts.order or {}).get("code") or {"text": facts.study.get("description") or "Imaging study"}
    addenda = [e for e in (existing or {}).get("extension", []) if e.get("url") == ADDENDUM_URL]
    text = report_text(form, facts.template, exam=exam_name(facts.order, facts.study, locale), locale=locale,
                       addenda=addenda_of(existing))
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "status": status, "category": [RAD], "code": code,
        "subject": facts.study["subject"], "imagingStudy": [{"reference": study_ref}],
        "extension": [{"url": TEMPLATE_URL, "valueString": facts.template.key}, *_sections(form), *addenda],
        "presentedForm": [{"contentType": "text/plain", "language": locale,
                           "data": base64.b64encode(text.encode("utf-8")).decode("ascii"), "title": "Report"}],
    }
    if facts.order:
        report["basedOn"] = [{"reference": f"ServiceRequest/{facts.order['id']}"}]
    if facts.study.get("started"):
        report["effectiveDateTime"] = facts.study["started"]
    if form.impression:
        report["conclusion"] = form.impression
    if existing:
        report["id"] = existing["id"]
    return report


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    if "id" not in resource:
        return {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    version = (resource.get("meta") or {}).get("versionId")
    request = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    if version:
        request["ifMatch"] = f'W/"{version}"'
    return {"resource": resource, "request": request}


def _transaction(ctx: AccessContext, entries: list[dict[str, Any]]) -> list[str]:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}
    return ["/".join((e.get("response") or {}).get("location", "").split("/_history")[0].split("/")[-2:])
            for e in response.get("entry", [])]


def _require_signer(ctx: AccessContext) -> None:
    if not ctx.roles & SIGNERS or not (ctx.fhir_user or "").startswith("Practitioner/"):
        raise ReportRefused(_("Only a radiologist writes and signs imaging reports."), status=403)


def save_draft(ctx: AccessContext, *, study_id: str, form: ReportForm, locale: str) -> dict[str, Any]:
    """Keep the report as a preliminary DiagnosticReport (created or updated); not seen by the patient."""
    _require_signer(ctx)
    facts = open_study(ctx, study_id)
    current = facts.current
    if current is not None and current.get("status") in RELEASED:
        raise ReportRefused(_("This study's report is signed; write an addendum instead."), status=409)
    draft = _report_resource(facts, form, status="preliminary", existing=current, locale=locale)
    if current is not None:
        draft["meta"] = {"versionId": (current.get("meta") or {}).get("versionId", "1")}
    [ref] = _transaction(ctx, [_entry(draft)])
    return gateway.read(ctx, ref)


def sign(ctx: AccessContext, *, study_id: str, form: ReportForm, locale: str) -> dict[str, Any]:
    """Sign the report: final, issued, the radiologist as interpreter, the order completed; the doctor told."""
    _require_signer(ctx)
    facts = open_study(ctx, study_id)
    current = facts.current
    if current is not None and current.get("status") in RELEASED:
        raise ReportRefused(_("This study's report is signed; write an addendum instead."), status=409)
    report = _report_resource(facts, form, status="final", existing=current, locale=locale)
    report["issued"] = clock.format_instant(clock.now())
    report["resultsInterpreter"] = [{"reference": ctx.fhir_user}]
    if current is not None:
        report["meta"] = {"versionId": (current.get("meta") or {}).get("versionId", "1")}
    entries = [_entry(report)]
    if facts.order and facts.order.get("status") == "active":
        entries.append(_entry({**facts.order, "status": "completed"}))
    ref = _transaction(ctx, entries)[0]
    signed = gateway.read(ctx, ref)
    _tell_doctor(facts, signed, kind=REPORT_SIGNED.name, title=_("Imaging report signed"),
                 body=_("%(patient)s: %(exam)s. Impression: %(impression)s"))
    return signed


def add_addendum(ctx: AccessContext, *, report_id: str, text: str, reason: str, locale: str) -> dict[str, Any]:
    """Add an addendum to a signed report: a new version, amended, with the text and reason; history kept."""
    _require_signer(ctx)
    text, reason = (text or "").strip(), (reason or "").strip()
    if not text or not reason:
        raise ReportRefused(_("An addendum needs its text and the reason for it."))
    if len(text) > MAX_SECTION or len(reason) > MAX_REASON:
        raise ReportRefused(_("An addendum is at most %(limit)s characters and its reason at most %(reason)s."),
                            limit=MAX_SECTION, reason=MAX_REASON)
    try:
        report = gateway.read(ctx, f"DiagnosticReport/{checked_id(report_id, 'report')}")
    except FhirError as exc:
        raise ReportRefused(_("There is no such report."), status=404) from exc
    if report.get("status") not in RELEASED:
        raise ReportRefused(_("Only a signed report takes an addendum; edit the draft instead."), status=409)
    study_ref = next((s["reference"] for s in report.get("imagingStudy", []) if s.get("reference")), "")
    facts = open_study(ctx, study_ref.removeprefix("ImagingStudy/"))
    now = clock.format_instant(clock.now())
    addendum = {"url": ADDENDUM_URL, "extension": [
        {"url": "text", "valueString": text}, {"url": "reason", "valueString": reason},
        {"url": "time", "valueDateTime": now}, {"url": "author", "valueReference": {"reference": ctx.fhir_user}}]}
    amended = {**report, "status": "amended", "issued": now, "extension": [*report.get("extension", []), addendum]}
    full = report_text(form_of(amended) or ReportForm(), facts.template, locale=locale,
                       exam=exam_name(facts.order, facts.study, locale), addenda=addenda_of(amended))
    amended["presentedForm"] = [{"contentType": "text/plain", "language": locale, "title": "Report",
                                 "data": base64.b64encode(full.encode("utf-8")).decode("ascii")}]
    [ref] = _transaction(ctx, [_entry(amended)])
    saved = gateway.read(ctx, ref)
    _tell_doctor(facts, saved, kind=REPORT_AMENDED.name, title=_("Imaging report amended"),
                 body=_("%(patient)s: %(exam)s. Addendum: %(addendum)s"), addendum=text)
    return saved


def versions(ctx: AccessContext, report_id: str) -> list[dict[str, Any]]:
    """Every version of a report, newest first, read from the FHIR history as ctx."""
    bundle = gateway.serve(ctx, FhirRequest(method="GET", path=f"DiagnosticReport/{checked_id(report_id, 'report')}"
                                                              "/_history")).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if e.get("resource")]


def report_text_of(report: dict[str, Any]) -> str:
    """The plain text of a report's presentedForm, or ''."""
    for form in report.get("presentedForm", []):
        if form.get("contentType", "").startswith("text/plain") and form.get("data"):
            return base64.b64decode(form["data"]).decode("utf-8", errors="replace")
    return ""


def _accounts(reference: str | None) -> list[tuple[str, str]]:
    if not reference:
        return []
    with unit_of_work() as conn:
        rows = conn.execute(sa.select(user_account.c.id, user_account.c.locale)
                            .where(user_account.c.fhir_ref == reference)).all()
    return [(row.id, row.locale) for row in rows]


def _tell_doctor(facts: StudyFacts, report: dict[str, Any], *, kind: str, title: str, body: str,
                 addendum: str = "") -> None:
    """Notify the ordering doctor in their language; the link opens the study and its report."""
    accounts = _accounts(((facts.order or {}).get("requester") or {}).get("reference"))
    if not accounts:
        return
    patient = fhir_text.person_name(facts.patient)
    with unit_of_work() as conn:
        for user_id, locale in accounts:
            t = i18n.translations(locale).gettext
            text = t(body) % {"patient": patient, "exam": exam_name(facts.order, facts.study, locale),
                              "impression": report.get("conclusion", ""), "addendum": addendum}
            notify(conn, user_id=user_id, kind=kind, title=t(title), body=text[:2000],
                   link=f"/workstation/imaging/studies/{facts.study['id']}",
                   data={"report": f"DiagnosticReport/{report['id']}"})
