"""Home-isolation monitoring ended at public health's request: when nobody keeps a resident in home isolation any
more, their home-isolation monitoring plan is completed, so the twice-daily prompts and the missed-report rule stop.

Public health starts the plan through FROM_PROGRAMME (from_programmes.py) with the "home-isolation" template and
queues a job of kind HOME_ISOLATION_END with the patient when the last isolation ends; this module owns what a
monitoring plan is and ends it. A plan already ended (or never made) leaves nothing to do, so the job is idempotent.
"""

import re

from smartcare.family.monitoring import plans
from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.platform import clock
from smartcare.platform.jobs import Job, handler
from smartcare.platform.security.context import SYSTEM

HOME_ISOLATION_END = "monitoring.home-isolation-end"
HOME_ISOLATION = "home-isolation"
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


@handler(HOME_ISOLATION_END, in_transaction=False)
def end_home_isolation(_engine: object, job: Job) -> None:
    """Complete the resident's active home-isolation monitoring plans (their other plans are left as they are)."""
    patient_id = str(job.payload.get("patient", ""))
    if not _ID.fullmatch(patient_id):  # not a patient id this platform writes: nothing to end
        return
    active = gateway.search(SYSTEM, "CarePlan", [("patient", f"Patient/{patient_id}"), ("status", "active"),
                                                 ("instantiates-uri", plans.TEMPLATE_URI + HOME_ISOLATION)])
    for plan in active:
        if plan.get("resourceType") != "CarePlan":
            continue
        ended = {key: value for key, value in plan.items() if key != "meta"}
        ended["status"] = "completed"
        ended["period"] = {**(plan.get("period") or {}), "end": clock.format_instant(clock.now())}
        gateway.serve(SYSTEM, FhirRequest(method="PUT", path=f"CarePlan/{plan['id']}", body=ended))
