"""Release of a reviewed report by an authorised person, and corrections after release.

Who may release: a lab technician or a doctor whose Practitioner has an active PractitionerRole coded
`lab-release` in the staff-duty code system (critical.DUTY_SYSTEM), kept in the hospital directory by its
administrators. Release needs the technician's review first; it makes the report and its Observations `final`
(with `issued` and `resultsInterpreter`), completes the order, and opens a critical-value Task for each LL/HH
result, all in one transaction; the ordering doctor is then notified. A report with results held by quality
control (a rejected QC run, quality.py) is not released. A correction after release writes new
versions (the report `corrected`, the changed Observations `corrected` with the reason as a note), so the FHIR
history keeps what was released before; the ordering doctor is told, and a value newly critical opens a Task.
Graded results (urine strip pads) are corrected the same way, by choosing another grade.
"""

from typing import Any

from smartcare.fhir import gateway
from smartcare.hospital.lab import critical, quality, results
from smartcare.hospital.lab.accession import LabRefused
from smartcare.knowledge.lab import Answer
from smartcare.platform import clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import notify
from smartcare.platform.security.context import AccessContext

RELEASERS = frozenset({"lab_technician", "doctor"})
MAX_REASON = 500


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated for each person it goes to."""
    return message


def may_release(ctx: AccessContext) -> bool:
    """True when ctx holds the laboratory's release authorisation (see the module docstring)."""
    if not ctx.roles & RELEASERS or not (ctx.fhir_user or "").startswith("Practitioner/"):
        return False
    found = gateway.search(ctx, "PractitionerRole", [("practitioner", ctx.fhir_user), ("active", "true"),
                                                     ("role", f"{critical.DUTY_SYSTEM}|{critical.RELEASE}"),
                                                     ("_count", "1")])
    return bool(found)


def _versioned(resource: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"resource": {**resource, **changes}, "request": {
        "method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}",
        "ifMatch": f'W/"{(resource.get("meta") or {}).get("versionId", "1")}"'}}


def _critical_tasks(observations: list[dict[str, Any]], request: dict[str, Any], ctx: AccessContext,
                    now: Any) -> list[dict[str, Any]]:
    return [{"resource": critical.task_for(o, request, releaser=ctx.fhir_user, flag=results.flag_of(o) or "", now=now),
             "request": {"method": "POST", "url": "Task"}}
            for o in observations if results.flag_of(o) in results.CRITICAL]


def _created_tasks(ctx: AccessContext, response: dict[str, Any]) -> list[dict[str, Any]]:
    locations = [(e.get("response") or {}).get("location", "") for e in response.get("entry", [])]
    refs = ["/".join(loc.split("/_history")[0].split("/")[-2:]) for loc in locations if "Task/" in loc]
    return [gateway.read(ctx, ref) for ref in refs]


def release(ctx: AccessContext, *, report_id: str) -> dict[str, Any]:
    """Release a reviewed preliminary report: final results, order completed, critical values sent to the doctor."""
    if not may_release(ctx):
        raise LabRefused("releasing reports needs the laboratory's release authorisation", status=403)
    report = results.read_report(ctx, report_id)
    if report.get("status") != "preliminary":
        raise LabRefused("only a preliminary report is released", status=409)
    if results.reviewed(report) is None:
        raise LabRefused("the report is released after the technician has reviewed it", status=409)
    observations = results.results_of(ctx, report)
    request = gateway.read(ctx, report["basedOn"][0]["reference"])
    held = quality.holds(ctx, request, observations)
    if held:
        raise LabRefused(quality.hold_message(held), status=409)
    now = clock.now()
    stamp = clock.format_instant(now)
    releaser = [{"reference": ctx.fhir_user}] if ctx.fhir_user else []
    entries = [_versioned(o, status="final") for o in observations]
    entries.append(_versioned(report, status="final", issued=stamp, resultsInterpreter=releaser)
                   if releaser else _versioned(report, status="final", issued=stamp))
    if request.get("status") == "active":
        entries.append(_versioned(request, status="completed"))
    entries += _critical_tasks(observations, request, ctx, now)
    response = results.transaction(ctx, entries)
    for task in _created_tasks(ctx, response):
        critical.tell_doctor(task)
    return results.read_report(ctx, report_id)


def correct(ctx: AccessContext, *, report_id: str, values: dict[str, str], reason: str) -> dict[str, Any]:
    """Correct released results: new values with the reason; earlier versions stay in the history."""
    if not may_release(ctx):
        raise LabRefused("correcting released reports needs the laboratory's release authorisation", status=403)
    reason = (reason or "").strip()
    if not reason:
        raise LabRefused("say why the report is corrected")
    if len(reason) > MAX_REASON:
        raise LabRefused(f"the reason is at most {MAX_REASON} characters")
    report = results.read_report(ctx, report_id)
    if report.get("status") not in results.RELEASED:
        raise LabRefused("only a released report is corrected; before release, enter the results again", status=409)
    observations = {results.loinc_of(o): o for o in results.results_of(ctx, report)}
    if set(values) - set(observations):
        raise LabRefused("a value was given for a test that is not on this report")
    request = gateway.read(ctx, report["basedOn"][0]["reference"])
    specimen = gateway.read(ctx, report["specimen"][0]["reference"]) if report.get("specimen") else {}
    who = results.patient_facts(gateway.read(ctx, report["subject"]["reference"]))
    order = results.order_of(request)
    tests = {t.loinc: t for t in results.analytes(order)} if order else {}
    now = clock.now()
    stamp = clock.format_instant(now)
    changed = []
    for code, text in values.items():
        test = tests.get(code)
        value = results.parse_entry(test, text) if test else results.parse_value(text)
        old = observations[code]
        # A grade is compared by its code, so re-choosing the released grade is no change.
        same = (value.code if isinstance(value, Answer) else value) == results.recorded_value(old)
        if value is None or test is None or same:
            continue
        fresh = results.observation(test, value, request=request, specimen=specimen, who=who,
                                    performer=ctx.fhir_user, now=now)
        fresh.update(id=old["id"], status="corrected", meta=old.get("meta"),
                     note=[*old.get("note", []), {"text": f"Corrected from {results.value_text(old)}: {reason}",
                                                  "time": stamp}])
        changed.append(fresh)
    if not changed:
        raise LabRefused("no value differs from the released one")
    entries = [_versioned(o) for o in changed]
    entries.append(_versioned(report, status="corrected", issued=stamp))
    entries += _critical_tasks(changed, request, ctx, now)
    response = results.transaction(ctx, entries)
    for task in _created_tasks(ctx, response):
        critical.tell_doctor(task)
    _tell_corrected(request, report, reason)
    return results.read_report(ctx, report_id)


def _tell_corrected(request: dict[str, Any], report: dict[str, Any], reason: str) -> None:
    reference = report["subject"]["reference"]
    with unit_of_work() as conn:
        accounts = critical.accounts_of(conn, (request.get("requester") or {}).get("reference"))
        patient = (critical.name_of(conn, reference) if accounts else "") or reference
        for user_id, locale in accounts:
            notify(conn, user_id=user_id, kind=critical.CORRECTED.name,
                   title=i18n.translations(locale).gettext(_("Laboratory report corrected")),
                   body=critical.correction_text(locale, patient=patient, report=report, reason=reason)[:2000],
                   link=f"/workstation/patients/{reference.split('/')[-1]}",
                   data={"report": f"DiagnosticReport/{report['id']}", "patient": patient})
