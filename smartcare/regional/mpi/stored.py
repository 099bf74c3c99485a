"""How the index keeps a source record: its normalised demographics as JSON, and its blocking keys."""

import dataclasses
import json

from smartcare.regional.mpi.blocking import PREDICTION_RULES
from smartcare.regional.mpi.normalise import Person

MAX_KEY = 200


def block_keys(record: Person) -> list[str]:
    """The record's blocking keys as stored: "<rule number>:<key>" for each rule that gives one."""
    keys = []
    for number, rule in enumerate(PREDICTION_RULES):
        if key := rule.key(record):
            keys.append(f"{number}:{key}"[:MAX_KEY])
    return keys


def person_json(record: Person) -> str:
    """A normalised record as the JSON kept with its link."""
    return json.dumps(dataclasses.asdict(record), ensure_ascii=False, separators=(",", ":"))


def person_from_json(text: str) -> Person:
    """A normalised record back from its JSON."""
    return Person(**json.loads(text))
