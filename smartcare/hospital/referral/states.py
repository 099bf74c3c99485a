"""The referral state machine as plain data: which action moves a referral from which state to which.

Upward (clinic -> hospital): requested -> accepted | rejected; accepted -> scheduled (an appointment is
booked in the receiving department) -> arrived -> completed. Downward (hospital -> clinic at discharge):
requested -> accepted | rejected; accepted -> completed. The requester may cancel before the patient
arrives (upward) or before completion (downward). Everything else is refused.
"""

from dataclasses import dataclass

UPWARD, DOWNWARD = "upward", "downward"
DIRECTIONS = (UPWARD, DOWNWARD)
STATES = ("requested", "accepted", "rejected", "scheduled", "arrived", "completed", "cancelled")
FINAL = frozenset({"rejected", "completed", "cancelled"})
RECEIVER, REQUESTER = "receiver", "requester"
ACTIONS = ("accept", "reject", "schedule", "arrive", "complete", "cancel")
# FHIR Task.status for each of our states (the businessStatus carries ours).
TASK_STATUS = {"requested": "requested", "accepted": "accepted", "rejected": "rejected", "scheduled": "in-progress",
               "arrived": "in-progress", "completed": "completed", "cancelled": "cancelled"}
# FHIR ServiceRequest.status for each of our states.
REQUEST_STATUS = {"requested": "active", "accepted": "active", "scheduled": "active", "arrived": "active",
                  "completed": "completed", "rejected": "revoked", "cancelled": "revoked"}


@dataclass(frozen=True, slots=True)
class Move:
    """An action allowed from some states, to one state, by one side."""

    sources: frozenset[str]
    target: str
    side: str


_MOVES: dict[str, dict[str, Move]] = {
    UPWARD: {
        "accept": Move(frozenset({"requested"}), "accepted", RECEIVER),
        "reject": Move(frozenset({"requested"}), "rejected", RECEIVER),
        "schedule": Move(frozenset({"accepted"}), "scheduled", RECEIVER),
        "arrive": Move(frozenset({"scheduled"}), "arrived", RECEIVER),
        "complete": Move(frozenset({"arrived"}), "completed", RECEIVER),
        "cancel": Move(frozenset({"requested", "accepted", "scheduled"}), "cancelled", REQUESTER),
    },
    DOWNWARD: {
        "accept": Move(frozenset({"requested"}), "accepted", RECEIVER),
        "reject": Move(frozenset({"requested"}), "rejected", RECEIVER),
        "complete": Move(frozenset({"accepted"}), "completed", RECEIVER),
        "cancel": Move(frozenset({"requested", "accepted"}), "cancelled", REQUESTER),
    },
}


class IllegalTransition(Exception):
    """The action is not allowed from the referral's present state (or not for this kind of referral)."""

    def __init__(self, direction: str, state: str, action: str):
        super().__init__(f"A {direction} referral that is {state} cannot be given the action {action!r}")
        self.direction, self.state, self.action = direction, state, action


def move(direction: str, state: str, action: str) -> Move:
    """The move action makes from state in a referral of direction; IllegalTransition when there is none."""
    found = _MOVES.get(direction, {}).get(action)
    if found is None or state not in found.sources:
        raise IllegalTransition(direction, state, action)
    return found


def actions_from(direction: str, state: str, side: str) -> list[str]:
    """The actions one side may take on a referral in state, in the order the page shows them."""
    return [name for name in ACTIONS
            if (m := _MOVES.get(direction, {}).get(name)) and state in m.sources and m.side == side]
