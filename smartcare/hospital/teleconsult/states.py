"""The remote consultation state machine as plain data: which action moves a request from which state to which.

requested -> assigned (one specialist) | scheduled (a multi-disciplinary session); assigned -> scheduled (the
department convenes a team after all); assigned | scheduled -> answered (the opinion is written). Either side
may cancel before the answer. Everything else is refused.
"""

from dataclasses import dataclass

STATES = ("requested", "assigned", "scheduled", "answered", "cancelled")
FINAL = frozenset({"answered", "cancelled"})
REQUESTER, RECEIVER, SPECIALIST = "requester", "receiver", "specialist"
ACTIONS = ("assign", "convene", "answer", "cancel")
# FHIR Task.status and ServiceRequest.status for each of our states (the Task's businessStatus carries ours).
TASK_STATUS = {"requested": "requested", "assigned": "accepted", "scheduled": "in-progress",
               "answered": "completed", "cancelled": "cancelled"}
REQUEST_STATUS = {"requested": "active", "assigned": "active", "scheduled": "active", "answered": "completed",
                  "cancelled": "revoked"}


@dataclass(frozen=True, slots=True)
class Move:
    """An action allowed from some states, to one state, by some sides."""

    sources: frozenset[str]
    target: str
    sides: frozenset[str]


MOVES = {
    "assign": Move(frozenset({"requested"}), "assigned", frozenset({RECEIVER})),
    "convene": Move(frozenset({"requested", "assigned"}), "scheduled", frozenset({RECEIVER})),
    "answer": Move(frozenset({"assigned", "scheduled"}), "answered", frozenset({SPECIALIST})),
    "cancel": Move(frozenset({"requested", "assigned", "scheduled"}), "cancelled", frozenset({REQUESTER, RECEIVER})),
}


class IllegalTransition(Exception):
    """The action is not allowed from the current state."""


def move(state: str, action: str) -> Move:
    """The move action makes from state; IllegalTransition when there is none."""
    step = MOVES.get(action)
    if step is None:
        raise IllegalTransition(f"{action[:20]!r} is not a step of a remote consultation")
    if state not in step.sources:
        raise IllegalTransition(f"A {state} consultation does not allow {action}")
    return step


def actions_for(state: str, sides: frozenset[str]) -> list[str]:
    """The actions someone working on these sides may take from state, in a stable order."""
    return [a for a in ACTIONS if state in MOVES[a].sources and MOVES[a].sides & sides]
