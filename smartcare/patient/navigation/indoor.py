"""Indoor navigation: each organisation's buildings as a weighted networkx graph, routes and step-by-step directions.

Nodes are named `<building>:<floor>:<point>`; departments are `<building>:<floor>:dept-<key>` and other
rooms `<building>:<floor>:room-<key>`. Edge weights are metres of walking, plus a cost for changing
floors (waiting for a lift, climbing stairs) so a short hop between floors prefers the stairs or the
escalator and a long one the lift. The accessible route leaves out stairs and escalators.
Pure data and functions: no database, no HTTP (the floor plans are data/floorplans.yaml).
"""

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import networkx as nx
import yaml

DATA = Path(__file__).parent / "data" / "floorplans.yaml"
VERTICAL = ("lift", "stairs", "escalator")
NOT_ACCESSIBLE = frozenset({"stairs", "escalator"})
# Metres-equivalent cost of one floor by each way up, and of waiting for a lift (paid getting in and out).
FLOOR_COST = {"lift": 4.0, "stairs": 12.0, "escalator": 7.0}
LIFT_WAIT = 8.0
ROOM_DEPTH = 4.0
_MAX_NODE = 80


class UnknownPlace(ValueError):
    """A start or destination that the organisation's floor plan does not have."""


class NoRoute(ValueError):
    """The destination cannot be reached from the start (for example without stairs)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """One organisation's floor plan: the graph and what the pages need to name and draw it."""

    org_id: str
    graph: nx.Graph
    entrance: str
    buildings: dict[str, dict[str, Any]]
    departments: dict[str, str]  # department key -> node
    rooms: dict[str, dict[str, Any]]  # room key -> {node, name_en, name_zh}

    def has_lift(self) -> bool:
        """True when some building of the organisation has a lift."""
        return any(d.get("kind") == "lift" for _n, d in self.graph.nodes(data=True))


@dataclass(slots=True)
class Route:
    """A route through the plan: the nodes walked, the directions, metres walked and floors changed."""

    path: list[str]
    steps: list[dict[str, Any]] = field(default_factory=list)
    metres: float = 0.0
    floors: int = 0
    accessible: bool = False


@cache
def _data() -> dict[str, Any]:
    with DATA.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def organizations() -> list[str]:
    """The organisations that have a floor plan."""
    return sorted(_data()["organizations"])


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.dist(a, b)


def _add_floor(graph: nx.Graph, building: str, floor: int, layout: dict[str, Any], offset: tuple[float, float]):
    points = dict(layout["points"])
    corridors = {name: [list(line)] for name, line in layout["corridors"].items()}
    if floor == 1 and "ground" in layout:
        points |= layout["ground"].get("points", {})
        for name, line in layout["ground"].get("corridors", {}).items():
            corridors.setdefault(name, []).append(list(line))
    for key, (x, y) in points.items():
        graph.add_node(f"{building}:{floor}:{key}", building=building, floor=floor, xy=(x + offset[0], y + offset[1]),
                       kind="entrance" if key == "entrance" else "point", point=key)
    for name, lines in corridors.items():
        for line in lines:
            for a, b in zip(line, line[1:], strict=False):
                u, v = f"{building}:{floor}:{a}", f"{building}:{floor}:{b}"
                d = _metres(graph.nodes[u]["xy"], graph.nodes[v]["xy"])
                graph.add_edge(u, v, way="corridor", corridor=name, metres=d, weight=d)
    for c in layout.get("connectors", []):
        if floor not in c.get("floors", [floor]):
            continue
        node = f"{building}:{floor}:{c['key']}"
        graph.add_node(node, building=building, floor=floor, xy=(c["at"][0] + offset[0], c["at"][1] + offset[1]),
                       kind=c["kind"], connector=c["key"], name_en=c["name_en"], name_zh=c["name_zh"])
        joined = f"{building}:{floor}:{c['joins']}"
        d = _metres(graph.nodes[node]["xy"], graph.nodes[joined]["xy"])
        graph.add_edge(node, joined, way="door", metres=d, weight=d + (LIFT_WAIT if c["kind"] == "lift" else 0.0))


def _add_room(graph: nx.Graph, node: str, building: str, floor: int, point: str, side: str, **attrs: Any) -> None:
    at = f"{building}:{floor}:{point}"
    if at not in graph:
        raise ValueError(f"floor plan: {node} is placed at {at}, which is not on the plan")
    x, y = graph.nodes[at]["xy"]
    xy = (x, y + ROOM_DEPTH if side == "n" else y - ROOM_DEPTH)
    graph.add_node(node, building=building, floor=floor, xy=xy, side=side, **attrs)
    graph.add_edge(node, at, way="door", metres=ROOM_DEPTH, weight=ROOM_DEPTH)


def _link_floors(graph: nx.Graph, building: str, floors: int, layout: dict[str, Any]) -> None:
    for c in layout.get("connectors", []):
        served = [f for f in range(1, floors + 1) if f in c.get("floors", range(1, floors + 1))]
        for lower, upper in zip(served, served[1:], strict=False):
            graph.add_edge(f"{building}:{lower}:{c['key']}", f"{building}:{upper}:{c['key']}", way=c["kind"],
                           metres=0.0, weight=FLOOR_COST[c["kind"]] * (upper - lower))


@cache
def plan(org_id: str) -> Plan:
    """The floor plan of org_id; UnknownPlace when it has none."""
    data = _data()
    spec = data["organizations"].get(org_id)
    if spec is None:
        raise UnknownPlace(org_id)
    graph = nx.Graph()
    for key, b in spec["buildings"].items():
        layout = data["layouts"][b["layout"]]
        for floor in range(1, b["floors"] + 1):
            _add_floor(graph, key, floor, layout, tuple(b["at"]))
        _link_floors(graph, key, b["floors"], layout)
    departments = {}
    for dept, (floor, point, side) in spec.get("departments", {}).items():
        node = f"{spec['department_building']}:{floor}:dept-{dept}"
        _add_room(graph, node, spec["department_building"], floor, point, side, kind="department", department=dept)
        departments[dept] = node
    rooms = {}
    for key, room in spec.get("rooms", {}).items():
        building, floor, point, side = room["at"]
        node = f"{building}:{floor}:room-{key}"
        _add_room(graph, node, building, floor, point, side, kind="room", room=key,
                  name_en=room["name_en"], name_zh=room["name_zh"])
        rooms[key] = {"node": node, "name_en": room["name_en"], "name_zh": room["name_zh"]}
    for w in spec.get("walkways", []):
        d = float(w["metres"])
        graph.add_edge(w["from"], w["to"], way="walkway", metres=d, weight=d, name_en=w["name_en"], name_zh=w["name_zh"])
    buildings = {key: {"location": b["location"], "floors": b["floors"], "size": data["layouts"][b["layout"]]["size"],
                       "at": b["at"]} for key, b in spec["buildings"].items()}
    return Plan(org_id, graph, spec["entrance"], buildings, departments, rooms)


def resolve(p: Plan, place: str | None, *, default: str | None = None) -> str:
    """The node for a start or destination: a department key, room key, node id, or "entrance"."""
    text = (place or "").strip()[:_MAX_NODE]
    if not text:
        if default is None:
            raise UnknownPlace("")
        return default
    if text == "entrance":
        return p.entrance
    if text in p.departments:
        return p.departments[text]
    if text in p.rooms:
        return p.rooms[text]["node"]
    if text in p.graph and p.graph.nodes[text]["kind"] in ("entrance", "department", "room"):
        return text
    raise UnknownPlace(text)


def _usable(p: Plan, accessible: bool) -> nx.Graph:
    if not accessible:
        return p.graph
    return nx.subgraph_view(p.graph, filter_edge=lambda u, v: p.graph.edges[u, v]["way"] not in NOT_ACCESSIBLE)


def route(p: Plan, source: str, target: str, *, accessible: bool = False) -> Route:
    """The cheapest route from source to target (nodes); with accessible, one without stairs or escalators."""
    try:
        path = nx.shortest_path(_usable(p, accessible), source, target, weight="weight")
    except (nx.NetworkXNoPath, nx.NodeNotFound) as exc:
        raise NoRoute(f"{source} -> {target}") from exc
    found = Route(path=path, accessible=accessible)
    found.metres = sum(p.graph.edges[u, v]["metres"] for u, v in zip(path, path[1:], strict=False))
    found.floors = sum(abs(p.graph.nodes[u]["floor"] - p.graph.nodes[v]["floor"])
                       for u, v in zip(path, path[1:], strict=False) if p.graph.edges[u, v]["way"] in VERTICAL)
    found.steps = directions(p, path)
    return found


def ways(p: Plan, r: Route) -> set[str]:
    """The kinds of edge a route uses (corridor, door, lift, stairs, escalator, walkway)."""
    return {p.graph.edges[u, v]["way"] for u, v in zip(r.path, r.path[1:], strict=False)}


# --- directions ---------------------------------------------------------------------------------


def _heading(p: Plan, u: str, v: str) -> tuple[float, float] | None:
    (x1, y1), (x2, y2) = p.graph.nodes[u]["xy"], p.graph.nodes[v]["xy"]
    length = math.hypot(x2 - x1, y2 - y1)
    return ((x2 - x1) / length, (y2 - y1) / length) if length else None


def turn(before: tuple[float, float] | None, after: tuple[float, float] | None) -> str | None:
    """left, right, straight or back for a walker heading `before` who then heads `after` (y points north)."""
    if before is None or after is None:
        return None
    cross = before[0] * after[1] - before[1] * after[0]
    dot = before[0] * after[0] + before[1] * after[1]
    if abs(cross) < 0.35:
        return "straight" if dot > 0 else "back"
    return "left" if cross > 0 else "right"


def _legs(p: Plan, path: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The path's edges grouped into legs: a run along one corridor, one ride, a walkway, a door."""
    legs: list[tuple[str, list[tuple[str, str]]]] = []
    for u, v in zip(path, path[1:], strict=False):
        edge = p.graph.edges[u, v]
        label = edge["way"] + (":" + edge["corridor"] if edge["way"] == "corridor" else "")
        if edge["way"] in VERTICAL:
            label += ":" + p.graph.nodes[u].get("connector", "")
        if legs and legs[-1][0] == label and edge["way"] != "door":
            legs[-1][1].append((u, v))
        else:
            legs.append((label, [(u, v)]))
    return legs


def _place(p: Plan, node: str) -> dict[str, Any]:
    """What a node is, for naming it on the page: a department, room, entrance or building point."""
    data = p.graph.nodes[node]
    return {"kind": data["kind"], "department": data.get("department"), "room": data.get("room"),
            "name_en": data.get("name_en"), "name_zh": data.get("name_zh"), "building": data["building"],
            "floor": data["floor"], "node": node}


def directions(p: Plan, path: list[str]) -> list[dict[str, Any]]:
    """Step-by-step directions for a path, as language-neutral steps the page words (see views/templates)."""
    steps: list[dict[str, Any]] = [{"kind": "start", "place": _place(p, path[0])}]
    heading: tuple[float, float] | None = None
    pending = 0.0  # metres through doors, added to the next walking step
    legs = _legs(p, path)
    for index, (label, edges) in enumerate(legs):
        way = label.split(":")[0]
        first, last = edges[0], edges[-1]
        if way in VERTICAL:
            start, end = p.graph.nodes[first[0]], p.graph.nodes[last[1]]
            steps.append({"kind": way, "floor": end["floor"], "up": end["floor"] > start["floor"],
                          "name_en": start.get("name_en"), "name_zh": start.get("name_zh")})
            heading, pending = None, 0.0
            continue
        metres = sum(p.graph.edges[u, v]["metres"] for u, v in edges)
        new_heading = _heading(p, *first)
        if way == "door":
            pending += metres
            if index < len(legs) - 1:  # the last door is the one into the destination: keep the heading to it
                heading = _heading(p, *last) or heading
            continue
        if way == "walkway":
            edge = p.graph.edges[first]
            steps.append({"kind": "walkway", "metres": round(metres + pending), "name_en": edge["name_en"],
                          "name_zh": edge["name_zh"], "building": p.graph.nodes[last[1]]["building"]})
        else:
            steps.append({"kind": "walk", "corridor": label.split(":")[1], "turn": turn(heading, new_heading),
                          "metres": round(metres + pending)})
        pending = 0.0
        heading = _heading(p, *last) or heading
    target = path[-1]
    side = None
    if len(path) > 1 and p.graph.edges[path[-2], target]["way"] == "door":
        side = turn(heading, _heading(p, path[-2], target))
    steps.append({"kind": "arrive", "place": _place(p, target), "side": side, "metres": round(pending)})
    return steps


# --- drawing ------------------------------------------------------------------------------------


def floors_on(p: Plan, r: Route) -> list[tuple[str, int]]:
    """The (building, floor) pairs the route passes, in the order it reaches them (rides pass through)."""
    seen: list[tuple[str, int]] = []
    for i, node in enumerate(r.path):
        data = p.graph.nodes[node]
        riding = 0 < i < len(r.path) - 1 and data["kind"] in VERTICAL and all(
            p.graph.edges[a, b]["way"] in VERTICAL for a, b in ((r.path[i - 1], node), (node, r.path[i + 1])))
        key = (data["building"], data["floor"])
        if not riding and key not in seen:
            seen.append(key)
    return seen


def drawing(p: Plan, building: str, floor: int, r: Route | None = None) -> dict[str, Any]:
    """One floor of one building as shapes in metres (y up), with the part of route r on it."""
    b = p.buildings[building]
    ox, oy = b["at"]
    on_floor = [n for n, d in p.graph.nodes(data=True) if d["building"] == building and d["floor"] == floor]
    here = set(on_floor)
    corridors, doors = [], []
    for u, v, e in p.graph.edges(data=True):
        if u in here and v in here:
            line = (*p.graph.nodes[u]["xy"], *p.graph.nodes[v]["xy"])
            (corridors if e["way"] == "corridor" else doors).append([c - o for c, o in zip(line, (ox, oy, ox, oy),
                                                                                             strict=True)])
    places = []
    for n in on_floor:
        d = p.graph.nodes[n]
        if d["kind"] in ("department", "room", "entrance", *VERTICAL):
            x, y = d["xy"]
            places.append({**_place(p, n), "x": x - ox, "y": y - oy, "side": d.get("side")})
    route_points = []
    if r is not None:
        route_points = [[p.graph.nodes[n]["xy"][0] - ox, p.graph.nodes[n]["xy"][1] - oy] for n in r.path if n in here]
    return {"building": building, "floor": floor, "width": b["size"][0], "height": b["size"][1],
            "corridors": corridors, "doors": doors, "places": places, "route": route_points,
            "start": r is not None and r.path[0] in here, "end": r is not None and r.path[-1] in here}
