"""The demo region's risks and programmes: every resident assessed, and the demo patient's programme made and accepted."""

from sqlalchemy.engine import Engine

from smartcare.demo import accounts
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.regional.risk import batch, plans, service


def load_risk(engine: Engine) -> int:
    """Assess every resident from their record as the region's run does, then have the family doctor draft the demo
    patient's prevention programme and accept it as drafted (once); how many resources were written."""
    with unit_of_work(engine) as conn:
        everyone = service.all_patients(conn)
        demo = accounts.first_resource(conn, "Patient", [("organization", accounts.CLINIC)])
        gp_user = users.get_by_username(conn, username="gp.demo")
    written = batch.assess_region(everyone).get("assessed", 0)
    if demo is None or gp_user is None:
        return written
    gp = users.context_for(gp_user)
    if plans.current(gp, demo["id"], status="active") is not None:
        return written
    drafted = plans.draft(gp, demo["id"])
    plans.accept(gp, demo["id"], drafted.plan["id"], keep_goals={plans.goal_key(g) for g in drafted.goals},
                 keep_activities={plans.activity_key(a) for a in drafted.plan.get("activity", [])}, targets={})
    return written + len(drafted.goals) + 1
