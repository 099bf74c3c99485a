"""Health supervision tables outside FHIR: supervised facilities, their licences, inspection plans, inspections with
their checklist answers, and findings.

FHIR has no resource for a health inspector's register (a water works or a bath-house is no healthcare
Organization), so these are tables of their own; a hospital or clinic links to its FHIR Organization by
`organization_ref`. Dates are ISO text ("YYYY-MM-DD"), instants the platform's UTC text (clock.format_instant):
both sort in time order as strings. A licence's status and a finding's "overdue" are computed from the dates, never
stored; only revocation, rectification and escalation are.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

supervised_facility = sa.Table(
    "supervised_facility",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # checklists.KINDS
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("address", sa.String(300), nullable=False),
    sa.Column("district", sa.String(12), nullable=False),  # GB/T 2260 code of one of the region's districts
    sa.Column("organization_ref", sa.String(80), nullable=True),  # Organization/<id>, hospitals and clinics
    sa.Column("beds", sa.Integer, nullable=True),
    sa.Column("status", sa.String(10), nullable=False),  # active | closed
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.UniqueConstraint("organization_ref", name="uq_supervised_facility_organization"),
)
sa.Index("ix_supervised_facility_kind_district", supervised_facility.c.kind, supervised_facility.c.district)

facility_licence = sa.Table(
    "facility_licence",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("facility_id", sa.String(36), sa.ForeignKey("supervised_facility.id"), nullable=False),
    sa.Column("kind", sa.String(30), nullable=False),  # a licence kind of data/checklists.yaml
    sa.Column("number", sa.String(60), nullable=False),
    sa.Column("issued", sa.String(10), nullable=False),
    sa.Column("expires", sa.String(10), nullable=False),
    sa.Column("revoked_on", sa.String(10), nullable=True),
    sa.Column("revoked_reason", sa.String(300), nullable=True),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
)
sa.Index("ix_facility_licence_facility", facility_licence.c.facility_id, facility_licence.c.issued)
sa.Index("ix_facility_licence_expires", facility_licence.c.expires)

inspection_plan = sa.Table(
    "inspection_plan",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("starts", sa.String(10), nullable=False),
    sa.Column("ends", sa.String(10), nullable=False),
    sa.Column("kinds", sa.String(120), nullable=False),  # facility kinds, comma-separated
    sa.Column("district", sa.String(12), nullable=True),  # None: the whole region
    sa.Column("inspectors", sa.String(400), nullable=False),  # usernames, comma-separated
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
)

inspection_plan_item = sa.Table(
    "inspection_plan_item",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("plan_id", sa.String(36), sa.ForeignKey("inspection_plan.id"), nullable=False),
    sa.Column("facility_id", sa.String(36), sa.ForeignKey("supervised_facility.id"), nullable=False),
    sa.Column("due", sa.String(10), nullable=False),
    # The inspection that did it; no foreign key, because the inspection row points back here (plan_item_id).
    sa.Column("inspection_id", sa.String(36), nullable=True),
    sa.UniqueConstraint("plan_id", "facility_id", name="uq_inspection_plan_item_facility"),
)
sa.Index("ix_inspection_plan_item_due", inspection_plan_item.c.due)

inspection = sa.Table(
    "inspection",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("facility_id", sa.String(36), sa.ForeignKey("supervised_facility.id"), nullable=False),
    sa.Column("plan_item_id", sa.String(36), sa.ForeignKey("inspection_plan_item.id"), nullable=True),
    sa.Column("inspected_on", sa.String(10), nullable=False),
    sa.Column("inspectors", sa.String(400), nullable=False),  # usernames, comma-separated
    sa.Column("kind", sa.String(12), nullable=False),  # routine | follow-up | complaint
    sa.Column("notes", sa.String(2000), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),
)
sa.Index("ix_inspection_facility", inspection.c.facility_id, inspection.c.inspected_on)
sa.Index("ix_inspection_inspected_on", inspection.c.inspected_on)

inspection_answer = sa.Table(
    "inspection_answer",
    metadata,
    sa.Column("inspection_id", sa.String(36), sa.ForeignKey("inspection.id"), primary_key=True),
    sa.Column("item_id", sa.String(40), primary_key=True),
    sa.Column("result", sa.String(16), nullable=False),  # pass | fail | not_applicable
    sa.Column("note", sa.String(500), nullable=False),
)

finding = sa.Table(
    "finding",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("inspection_id", sa.String(36), sa.ForeignKey("inspection.id"), nullable=False),
    sa.Column("facility_id", sa.String(36), sa.ForeignKey("supervised_facility.id"), nullable=False),
    sa.Column("item_id", sa.String(40), nullable=True),
    sa.Column("description", sa.String(1000), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),  # minor | major | critical
    sa.Column("is_violation", sa.Boolean, nullable=False),
    sa.Column("legal_basis", sa.String(300), nullable=True),
    sa.Column("rectify_by", sa.String(10), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # open | rectified | escalated ("overdue" is computed)
    sa.Column("closed_by_inspection_id", sa.String(36), sa.ForeignKey("inspection.id"), nullable=True),
    sa.Column("closed_on", sa.String(10), nullable=True),
)
sa.Index("ix_finding_facility_status", finding.c.facility_id, finding.c.status)
sa.Index("ix_finding_rectify_by", finding.c.rectify_by)
