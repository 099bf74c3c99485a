"""Home monitoring asked for by a prevention programme: the regional platform's programme names a monitoring template,
and once a doctor makes the programme active the resident gets that monitoring plan (unless they already have it).

The regional module queues a job of kind FROM_PROGRAMME with the patient and the template names (jobs are this
platform's transactional outbox between modules); this module owns what a monitoring plan is and assigns it.
"""

from smartcare.family.monitoring import plans, rules
from smartcare.fhir import gateway
from smartcare.platform.jobs import Job, handler
from smartcare.platform.security.context import SYSTEM

FROM_PROGRAMME = "monitoring.from-programme"


@handler(FROM_PROGRAMME, in_transaction=False)
def assign_from_programme(_engine: object, job: Job) -> None:
    """Give the resident each monitoring plan the programme asks for that they do not have yet (an existing plan,
    perhaps adjusted by their doctor, is kept as it is)."""
    patient_id = str(job.payload.get("patient", ""))
    for template in job.payload.get("templates", []):
        if template not in rules.catalogue()["templates"]:  # a name this platform does not know: nothing to do
            continue
        held = gateway.search(SYSTEM, "CarePlan", [("patient", f"Patient/{patient_id}"), ("status", "active"),
                                                   ("instantiates-uri", plans.TEMPLATE_URI + template)])
        if not held:
            plans.assign_plan(SYSTEM, patient_id=patient_id, template_name=str(template))
