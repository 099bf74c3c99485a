"""Indoor routes on every demo organisation: every department reachable, accessible routes without stairs, wording."""

import pytest

from smartcare.hospital.directory import conventions as dc
from smartcare.patient.navigation import indoor
from tests.patient.navigation.conftest import demo_directory

DIRECTORY = demo_directory()
OFFERED = sorted(DIRECTORY.departments)  # (organisation id, department key) as the demo directory offers them


def test_every_demo_organisation_has_a_floor_plan_with_a_lift():
    assert sorted(DIRECTORY.org_kind) == indoor.organizations()
    assert all(indoor.plan(org).has_lift() for org in indoor.organizations())


@pytest.mark.parametrize(("org_id", "department"), OFFERED, ids=[f"{o}:{d}" for o, d in OFFERED])
def test_every_offered_department_is_reachable_from_the_main_entrance_with_and_without_stairs(org_id, department):
    plan = indoor.plan(org_id)
    target = indoor.resolve(plan, department)
    shortest = indoor.route(plan, plan.entrance, target)
    accessible = indoor.route(plan, plan.entrance, target, accessible=True)
    assert shortest.path[0] == plan.entrance and shortest.path[-1] == target
    assert accessible.path[-1] == target
    assert not indoor.ways(plan, accessible) & indoor.NOT_ACCESSIBLE
    assert shortest.steps[-1]["place"]["department"] == department


def test_department_floors_agree_with_the_consulting_rooms_of_the_directory():
    rooms = {r["id"]: r for r in DIRECTORY.resources if r["resourceType"] == "Location"}
    checked = 0
    for (org_id, key), dept in DIRECTORY.departments.items():
        plan = indoor.plan(org_id)
        for room_id in dept.rooms:
            assert plan.graph.nodes[plan.departments[key]]["floor"] == dc.floor_of(rooms[room_id]), (org_id, key)
            checked += 1
    assert checked > 50


def test_a_short_hop_upstairs_takes_the_escalator_and_the_step_free_route_the_lift():
    plan = indoor.plan("org-hosp-1")
    target = indoor.resolve(plan, "gastroenterology")  # floor 2
    shortest = indoor.route(plan, plan.entrance, target)
    accessible = indoor.route(plan, plan.entrance, target, accessible=True)
    assert "escalator" in indoor.ways(plan, shortest)
    assert "lift" in indoor.ways(plan, accessible) and not indoor.ways(plan, accessible) & {"stairs", "escalator"}
    assert [s["kind"] for s in accessible.steps].count("lift") == 1
    assert next(s for s in accessible.steps if s["kind"] == "lift")["floor"] == 2
    assert shortest.floors == accessible.floors == 1


def test_directions_to_cardiology_turn_left_along_corridor_a_and_find_it_on_the_left():
    plan = indoor.plan("org-hosp-1")
    steps = indoor.route(plan, plan.entrance, indoor.resolve(plan, "cardiology")).steps
    assert steps[0]["kind"] == "start" and steps[0]["place"]["kind"] == "entrance"
    walks = [s for s in steps if s["kind"] == "walk"]
    assert walks[0]["corridor"] == "C" and walks[1] == {"kind": "walk", "corridor": "A", "turn": "left", "metres": 8}
    assert steps[-1]["side"] == "left"


def test_the_inpatient_wards_are_reached_over_the_walkway_and_by_lift():
    plan = indoor.plan("org-hosp-1")
    found = indoor.route(plan, plan.entrance, indoor.resolve(plan, "ward-paediatrics"), accessible=True)
    kinds = [s["kind"] for s in found.steps]
    assert "walkway" in kinds and "lift" in kinds
    assert indoor.floors_on(plan, found) == [("opd", 1), ("ipd", 1), ("ipd", 4)]


def test_a_route_from_one_department_to_another_goes_down_and_back_up_by_lift_when_step_free():
    plan = indoor.plan("org-hosp-2")
    found = indoor.route(plan, indoor.resolve(plan, "ent"), indoor.resolve(plan, "laboratory"), accessible=True)
    ride = next(s for s in found.steps if s["kind"] == "lift")
    assert ride["floor"] == 2 and not ride["up"]


def test_the_step_free_route_is_refused_when_only_stairs_lead_there():
    plan = indoor.plan("org-chc-1")
    lifts = [(u, v) for u, v, e in plan.graph.edges(data=True) if e["way"] == "lift"]
    plan.graph.remove_edges_from(lifts)
    try:
        with pytest.raises(indoor.NoRoute):
            indoor.route(plan, plan.entrance, indoor.resolve(plan, "stomatology"), accessible=True)
        assert indoor.route(plan, plan.entrance, indoor.resolve(plan, "stomatology")).floors == 1
    finally:
        indoor.plan.cache_clear()


@pytest.mark.parametrize("place", ["cardiologyx", "opd:1:a1", "../../etc/passwd", "x" * 500, "opd:9:dept-ent"])
def test_unknown_or_hostile_places_are_refused(place):
    with pytest.raises(indoor.UnknownPlace):
        indoor.resolve(indoor.plan("org-hosp-1"), place)


def test_an_unknown_organisation_has_no_plan():
    with pytest.raises(indoor.UnknownPlace):
        indoor.plan("org-nowhere")


@pytest.mark.parametrize(("before", "after", "expected"), [
    ((0, 1), (-1, 0), "left"), ((0, 1), (1, 0), "right"), ((1, 0), (1, 0), "straight"), ((1, 0), (-1, 0), "back"),
    (None, (1, 0), None),
])
def test_turns_are_seen_from_the_walker_heading_north_up(before, after, expected):
    assert indoor.turn(before, after) == expected


@pytest.mark.parametrize("org_id", ["org-hosp-1", "org-hosp-2"])
def test_the_emergency_department_is_on_the_ground_floor_with_no_floor_to_change(org_id):
    plan = indoor.plan(org_id)
    route = indoor.route(plan, plan.entrance, indoor.resolve(plan, "emergency"), accessible=True)
    assert route.floors == 0 and not indoor.ways(plan, route) & {"lift", "stairs", "escalator"}
    assert route.metres < 40
