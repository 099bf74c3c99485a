"""Encounter notes at the doctor's workstation: structured SOAP drafts, signing, amendments and their history.

A note is a FHIR Composition (its shape is in notes_compose.py) with its diagnoses as Conditions and its
vital signs as Observations, all written in one transaction through the FHIR gateway as the signed-in
doctor, so the access policy decides and the audit trail records every read and write. A draft
(status preliminary) may be incomplete and edited by any doctor caring for the patient; its author signs
it (status final, a legal attester), after which it changes only by an amendment with a reason (status
amended), each a new version of the same Composition. Every save names the version it was based on
(If-Match), so a save over someone else's newer version is refused instead of overwriting it.
"""

from dataclasses import dataclass
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.directory.conventions import DEPARTMENT_SYSTEM
from smartcare.hospital.workstation import notes_compose as compose
from smartcare.hospital.workstation.notes_compose import NoteContent, NoteTemplate
from smartcare.hospital.workstation.notes_form import Problem, length_problem, missing_for_signing
from smartcare.platform import clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext

GENERAL = "general"
MAX_REASON = 500
HISTORY_SIZE = 100
NOTES_SHOWN = 50
WRITERS = frozenset({"doctor"})
READERS = frozenset({"doctor", "nurse"})
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.")


class NoteRefused(Exception):
    """A note action that cannot be done (not allowed, not found, or changed meanwhile), with a catalog message."""

    def __init__(self, message: str, *, status: int = 400, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params
        self.status = status


class NoteInvalid(Exception):
    """The note's fields are wrong or incomplete; problems says what, field by field."""

    def __init__(self, problems: dict[str, Problem]) -> None:
        super().__init__(", ".join(sorted(problems)))
        self.problems = problems


@dataclass(frozen=True)
class Note:
    """One stored note as the workstation shows it."""

    composition: dict[str, Any]
    template: NoteTemplate
    content: NoteContent
    patient: dict[str, Any]

    @property
    def id(self) -> str:
        """The Composition's id."""
        return self.composition["id"]

    @property
    def version(self) -> str:
        """The version this page was read at (what a save must still find current)."""
        return str((self.composition.get("meta") or {}).get("versionId", ""))

    @property
    def status(self) -> str:
        """preliminary (a draft), final (signed) or amended."""
        return self.composition.get("status", "")

    @property
    def author(self) -> str:
        """The reference of the doctor who wrote the note (and alone may sign it)."""
        return ((self.composition.get("author") or [{}])[0]).get("reference", "")


@dataclass(frozen=True)
class Version:
    """One version of a note with what changed since the one before."""

    number: str
    status: str
    when: str
    by: str
    reason: str
    changes: list[compose.Change]


def valid_id(value: str) -> bool:
    """True for a FHIR logical id (1 to 64 letters, digits, '-' or '.')."""
    return 0 < len(value) <= 64 and _ID_CHARS.issuperset(value)


def _require_id(value: str) -> str:
    if not valid_id(value):
        raise NoteRefused(_("There is no such record."), status=404)
    return value


def _read(ctx: AccessContext, reference: str) -> dict[str, Any]:
    try:
        return gateway.read(ctx, reference)
    except FhirError as exc:
        status = 403 if exc.status == 403 else 404
        raise NoteRefused(_("You cannot open %(reference)s."), status=status, reference=reference) from exc


def check_reader(ctx: AccessContext) -> None:
    """Refuse anyone but doctors and nurses the notes."""
    if not ctx.roles & READERS:
        raise NoteRefused(_("Only doctors and nurses read encounter notes."), status=403)


def check_writer(ctx: AccessContext) -> str:
    """The caller's Practitioner reference if they may write notes (a doctor linked to one); NoteRefused if not."""
    if not ctx.roles & WRITERS:
        raise NoteRefused(_("Only doctors write encounter notes."), status=403)
    if not (ctx.fhir_user or "").startswith("Practitioner/"):
        raise NoteRefused(_("Your account is not linked to a practitioner record, so it cannot sign notes."),
                          status=403)
    return ctx.fhir_user or ""


def _department_code(concept: dict[str, Any] | None) -> str:
    for coding in (concept or {}).get("coding", []):
        if coding.get("system") == DEPARTMENT_SYSTEM and coding.get("code"):
            return coding["code"]
    return ""


def _service_department(ctx: AccessContext, query: list[tuple[str, str]]) -> str:
    for service in gateway.search(ctx, "HealthcareService", [*query, ("_count", "5")]):
        for concept in service.get("type", []):
            if found := _department_code(concept):
                return found
    return ""


def department_of_encounter(ctx: AccessContext, encounter: dict[str, Any]) -> str:
    """The department key of an encounter: its serviceType, the department's HealthcareService, else general."""
    service_types = encounter.get("serviceType")
    if found := _department_code(service_types):
        return found
    provider = (encounter.get("serviceProvider") or {}).get("reference", "")
    if provider.startswith("Organization/"):
        if found := _service_department(ctx, [("organization", provider)]):
            return found
        organization = gateway.search(ctx, "Organization", [("_id", provider.split("/", 1)[1])])
        for concept in (organization[0] if organization else {}).get("type", []):
            if found := _department_code(concept):
                return found
    for coding in (service_types or {}).get("coding", []):
        if coding.get("system") == "http://snomed.info/sct" and coding.get("code"):
            if found := _service_department(ctx, [("specialty", f"http://snomed.info/sct|{coding['code']}")]):
                return found
    return GENERAL


def patient_and_encounter(ctx: AccessContext, *, patient_id: str, encounter_id: str = ""
                          ) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The patient (in the caller's reach) and, if named, their encounter."""
    check_reader(ctx)
    patient = _read(ctx, f"Patient/{_require_id(patient_id)}")
    if not encounter_id:
        return patient, None
    encounter = _read(ctx, f"Encounter/{_require_id(encounter_id)}")
    if (encounter.get("subject") or {}).get("reference") != f"Patient/{patient_id}":
        raise NoteRefused(_("That encounter is not this patient's."), status=404)
    return patient, encounter


def _transaction(ctx: AccessContext, entries: list[dict[str, Any]]) -> dict[str, Any]:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    try:
        answer = gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}
    except FhirError as exc:
        if exc.status == 412:
            raise NoteRefused(_("Someone else saved this note after you opened it. Your changes were not saved: "
                                "copy them, reload the note and enter them again."), status=409) from exc
        if exc.status in (403, 404):
            raise NoteRefused(_("You cannot write to this patient's record."), status=403) from exc
        raise
    for entry in answer.get("entry", []):
        resource = entry.get("resource") or {}
        if resource.get("resourceType") == "Composition":
            return resource
    raise NoteRefused(_("The note was not saved."), status=500)


@dataclass
class _Plan:
    entries: list[dict[str, Any]]
    conditions: list[str]
    vitals: dict[str, str]


def _uuid_ref(entries: list[dict[str, Any]]) -> str:
    return f"urn:uuid:00000000-0000-4000-8000-{len(entries):012d}"


def _plan(ctx: AccessContext, *, current: dict[str, Any] | None, template: NoteTemplate, content: NoteContent,
          patient: str, encounter: str | None, me: str, when: str, status: str) -> _Plan:
    """The Condition and Observation writes that make the stored diagnoses and vitals match content."""
    plan = _Plan(entries=[], conditions=[], vitals={})
    signed_before = bool(current) and current.get("status") != "preliminary"
    old = compose.content_of(current) if current else NoteContent()
    kept = {d.code: d for d in old.diagnoses if d.condition}
    for diagnosis in content.diagnoses:
        before = kept.pop(diagnosis.code, None)
        if before is None:
            ref = _uuid_ref(plan.entries)
            plan.entries.append({"fullUrl": ref, "resource": compose.condition(
                diagnosis, patient=patient, encounter=encounter, recorder=me, when=when),
                "request": {"method": "POST", "url": "Condition"}})
        else:
            ref = before.condition
            if before.verification != diagnosis.verification:
                existing = _read(ctx, ref)
                plan.entries.append({"resource": compose.condition(diagnosis, patient=patient, encounter=encounter,
                                                                   recorder=me, when=when, existing=existing),
                                     "request": {"method": "PUT", "url": ref}})
        plan.conditions.append(ref)
    for gone in kept.values():
        plan.entries.append(_withdrawn(ctx, gone.condition, signed_before))
    refs = compose.vital_references(current) if current else {}
    for spec in template.fields:
        if spec.kind != "vital" or not spec.loinc:
            continue
        value, ref = content.values.get(spec.key, ""), refs.get(spec.key)
        if not value:
            if ref:
                plan.entries.append(_withdrawn(ctx, ref, signed_before))
            continue
        existing = _read(ctx, ref) if ref else None
        changed = existing is None or old.values.get(spec.key) != value or existing.get("status") != status
        if ref and not changed:
            plan.vitals[spec.key] = ref
            continue
        vital_status = "amended" if status == "amended" and existing is not None else status
        if status == "amended" and existing is not None and old.values.get(spec.key) == value:
            vital_status = existing.get("status", "final")
        resource = compose.observation(spec, value, patient=patient, encounter=encounter, performer=me, when=when,
                                       status=vital_status, existing=existing)
        if ref:
            plan.entries.append({"resource": resource, "request": {"method": "PUT", "url": ref}})
        else:
            ref = _uuid_ref(plan.entries)
            plan.entries.append({"fullUrl": ref, "resource": resource,
                                 "request": {"method": "POST", "url": "Observation"}})
        plan.vitals[spec.key] = ref
    return plan


def _withdrawn(ctx: AccessContext, reference: str, signed_before: bool) -> dict[str, Any]:
    """A draft's dropped record is deleted; one a signed version showed is marked entered-in-error."""
    if not signed_before:
        return {"request": {"method": "DELETE", "url": reference}}
    resource = {**_read(ctx, reference)}
    if resource.get("resourceType") == "Condition":
        resource.pop("clinicalStatus", None)
        resource["verificationStatus"] = {"coding": [{"system": compose.VERIFICATION_SYSTEM,
                                                      "code": "entered-in-error"}]}
    else:
        resource["status"] = "entered-in-error"
    return {"resource": resource, "request": {"method": "PUT", "url": reference}}


def _composition(*, current: dict[str, Any] | None, template: NoteTemplate, content: NoteContent, plan: _Plan,
                 patient: str, encounter: dict[str, Any] | None, me: str, when: str, status: str) -> dict[str, Any]:
    code, display = compose.note_type(encounter)
    resource: dict[str, Any] = {k: v for k, v in (current or {}).items()
                                if k not in ("section", "text", "extension")}
    authors = list(resource.get("author") or [])
    if not any(a.get("reference") == me for a in authors):
        authors.append({"reference": me})
    resource |= {
        "resourceType": "Composition", "status": status,
        "type": {"coding": [{"system": compose.LOINC, "code": code, "display": display}], "text": display},
        "category": [{"coding": [{"system": DEPARTMENT_SYSTEM, "code": template.key, "display": template.title_en}]}],
        "subject": {"reference": patient}, "date": when, "author": authors,
        "title": f"{display} - {template.title_en}",
    }
    if encounter is not None and not current:
        resource["encounter"] = {"reference": f"Encounter/{encounter['id']}"}
    resource["section"] = compose.sections(template, content, vitals=plan.vitals, conditions=plan.conditions)
    return resource


def _save(ctx: AccessContext, *, current: dict[str, Any] | None, version: str, template: NoteTemplate,
          content: NoteContent, patient: str, encounter: dict[str, Any] | None, status: str,
          extra: dict[str, Any] | None = None) -> dict[str, Any]:
    me = check_writer(ctx)
    when = clock.format_instant(clock.now())
    encounter_ref = (current or {}).get("encounter", {}).get("reference") if current else (
        f"Encounter/{encounter['id']}" if encounter else None)
    plan = _plan(ctx, current=current, template=template, content=content, patient=patient,
                 encounter=encounter_ref, me=me, when=when, status=status)
    resource = _composition(current=current, template=template, content=content, plan=plan, patient=patient,
                            encounter=encounter, me=me, when=when, status=status) | (extra or {})
    if current is None:
        entry = {"fullUrl": "urn:uuid:00000000-0000-4000-8000-ffffffffffff", "resource": resource,
                 "request": {"method": "POST", "url": "Composition"}}
    else:
        entry = {"resource": resource, "request": {"method": "PUT", "url": f"Composition/{current['id']}",
                                                   "ifMatch": f'W/"{version}"'}}
    return _transaction(ctx, [*plan.entries, entry])


def create_draft(ctx: AccessContext, *, patient_id: str, encounter_id: str, department: str,
                 content: NoteContent) -> dict[str, Any]:
    """Save a new draft note for a patient (and encounter) on the department's template."""
    check_writer(ctx)
    _, encounter = patient_and_encounter(ctx, patient_id=patient_id, encounter_id=encounter_id)
    template = compose.template_for(department or GENERAL)
    return _save(ctx, current=None, version="", template=template, content=content,
                 patient=f"Patient/{patient_id}", encounter=encounter, status="preliminary")


def _current(ctx: AccessContext, note_id: str, version: str) -> tuple[dict[str, Any], NoteTemplate]:
    composition = _read(ctx, f"Composition/{_require_id(note_id)}")
    if not version.isdigit():
        raise NoteRefused(_("The form did not say which version of the note it edits; reload the note."))
    template = compose.template_for(compose.department_of(composition) or GENERAL)
    return composition, template


def update_draft(ctx: AccessContext, *, note_id: str, version: str, content: NoteContent) -> dict[str, Any]:
    """Save changes to a draft note, if nobody saved a newer version meanwhile."""
    check_writer(ctx)
    composition, template = _current(ctx, note_id, version)
    if composition.get("status") != "preliminary":
        raise NoteRefused(_("This note is signed; change it by an amendment with a reason."), status=409)
    return _save(ctx, current=composition, version=version, template=template, content=content,
                 patient=composition["subject"]["reference"], encounter=None, status="preliminary")


def _attester(me: str, when: str) -> list[dict[str, Any]]:
    return [{"mode": "legal", "time": when, "party": {"reference": me}}]


def _check_author(ctx: AccessContext, composition: dict[str, Any], refusal: str) -> str:
    me = check_writer(ctx)
    if ((composition.get("author") or [{}])[0]).get("reference") != me:
        raise NoteRefused(refusal, status=403)
    return me


def sign(ctx: AccessContext, *, note_id: str, version: str) -> dict[str, Any]:
    """Sign a draft as its author: it becomes final, attested, and changes only by amendment from now on."""
    composition, template = _current(ctx, note_id, version)
    me = _check_author(ctx, composition, _("Only the note's author may sign it."))
    if composition.get("status") != "preliminary":
        raise NoteRefused(_("This note is already signed."), status=409)
    content = compose.content_of(composition)
    if problems := missing_for_signing(template, content):
        raise NoteInvalid(problems)
    when = clock.format_instant(clock.now())
    return _save(ctx, current=composition, version=version, template=template, content=content,
                 patient=composition["subject"]["reference"], encounter=None, status="final",
                 extra={"attester": _attester(me, when)})


def amend(ctx: AccessContext, *, note_id: str, version: str, content: NoteContent, reason: str) -> dict[str, Any]:
    """Amend a signed note as its author with a reason: a new version (status amended); the old ones stay readable."""
    composition, template = _current(ctx, note_id, version)
    me = _check_author(ctx, composition, _("Only the note's author may amend it."))
    if composition.get("status") not in ("final", "amended"):
        raise NoteRefused(_("A draft is edited and signed, not amended."), status=409)
    problems = missing_for_signing(template, content)
    reason = compose.clean_text(reason)
    if not reason:
        problems["reason"] = Problem(_("Say why the signed note is amended."), {})
    elif problem := length_problem(reason, MAX_REASON):
        problems["reason"] = problem
    if problems:
        raise NoteInvalid(problems)
    when = clock.format_instant(clock.now())
    return _save(ctx, current=composition, version=version, template=template, content=content,
                 patient=composition["subject"]["reference"], encounter=None, status="amended",
                 extra={"attester": _attester(me, when),
                        "extension": [{"url": compose.AMENDMENT_EXT, "valueString": reason}]})


def open_note(ctx: AccessContext, *, note_id: str) -> Note:
    """A stored note with its template, values and patient."""
    check_reader(ctx)
    composition = _read(ctx, f"Composition/{_require_id(note_id)}")
    template = compose.template_for(compose.department_of(composition) or GENERAL)
    patient = _read(ctx, composition["subject"]["reference"])
    return Note(composition=composition, template=template, content=compose.content_of(composition), patient=patient)


def notes_of(ctx: AccessContext, *, patient_id: str) -> list[dict[str, Any]]:
    """The patient's notes, newest first."""
    check_reader(ctx)
    _require_id(patient_id)
    return gateway.search(ctx, "Composition", [("subject", f"Patient/{patient_id}"), ("_sort", "-date"),
                                               ("_count", str(NOTES_SHOWN))])


def history(ctx: AccessContext, *, note_id: str, locale: str) -> tuple[Note, list[Version]]:
    """Every version of a note, newest first, each with what changed from the version before."""
    note = open_note(ctx, note_id=note_id)
    bundle = gateway.serve(ctx, FhirRequest(method="GET", path=f"Composition/{note.id}/_history",
                                            query=[("_count", str(HISTORY_SIZE))])).body or {}
    versions = sorted((e["resource"] for e in bundle.get("entry", []) if e.get("resource")),
                      key=lambda r: int((r.get("meta") or {}).get("versionId", 0)))
    out: list[Version] = []
    before: NoteContent | None = None
    previous_status = ""
    for resource in versions:
        content = compose.content_of(resource)
        status = resource.get("status", "")
        # The first version is the note as first written: nothing changed before it.
        found = [] if before is None else compose.changes(note.template, before, content, locale)
        if before is not None and status != previous_status:
            found.insert(0, compose.Change("status", previous_status, status))
        by = ", ".join(a.get("party", {}).get("reference", "") for a in resource.get("attester", [])) if status != (
            "preliminary") else ", ".join(a.get("reference", "") for a in resource.get("author", []))
        out.append(Version(number=str(resource["meta"]["versionId"]), status=status,
                           when=str(resource["meta"].get("lastUpdated", ""))[:16].replace("T", " "),
                           by=by, reason=compose.amendment_reason(resource), changes=found))
        before, previous_status = content, status
    return note, list(reversed(out))
