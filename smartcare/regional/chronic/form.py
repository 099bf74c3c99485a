"""The chronic-disease follow-up form: its fields and bounds, the checks with their messages, and the visit's class."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from smartcare.knowledge.chronic import followup
from smartcare.platform.i18n import _

MAX_TEXT = 500

# Plausible entries on the form (typing mistakes are refused); these are bounds of data entry, not clinical
# thresholds, which come from knowledge/chronic/data/followup.yaml.
# name: (label msgid, low, high, decimals, unit)
NUMBERS: dict[str, tuple[str, float, float, int, str]] = {
    "systolic": (_("Systolic blood pressure"), 50, 300, 0, "mmHg"),
    "diastolic": (_("Diastolic blood pressure"), 20, 200, 0, "mmHg"),
    "heart_rate": (_("Heart rate"), 20, 250, 0, "/min"),
    "fasting_glucose": (_("Fasting blood glucose"), 1.0, 40.0, 1, "mmol/L"),
    "weight": (_("Weight"), 20, 300, 1, "kg"),
    "height": (_("Height"), 80, 250, 0, "cm"),
    "cigarettes": (_("Cigarettes per day"), 0, 100, 0, ""),
    "alcohol": (_("Alcohol per day"), 0, 40, 1, "liang"),
    "exercise_sessions": (_("Exercise sessions per week"), 0, 21, 0, ""),
    "exercise_minutes": (_("Minutes per session"), 0, 600, 0, ""),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "salt": ("light", "moderate", "heavy"),
    "psychology": ("good", "fair", "poor"),
    "adherence": ("regular", "intermittent", "none"),
    "adverse_reaction": ("no", "yes"),
}
OPTIONAL_NUMBERS = frozenset({"cigarettes", "alcohol", "exercise_sessions", "exercise_minutes"})
OUT_OF_RANGE = _("{what} must be a number from {low} to {high} {unit}.")
CHOOSE = _("Choose one of the answers.")
DIASTOLIC_BELOW = _("The diastolic pressure must be lower than the systolic.")
NEEDS_GLUCOSE = _("A diabetes follow-up needs the fasting blood glucose.")
DESCRIBE_REACTION = _("Describe the adverse drug reaction.")
TOO_LONG = _("Write at most {limit} characters.")
UNKNOWN_SYMPTOM = _("Choose symptoms from the list only.")
NOT_ON_REGISTRY = _("This resident is not on that registry.")


class FollowUpInvalid(Exception):
    """The follow-up form has mistakes: field -> (English msgid, values for it); nothing was written."""

    def __init__(self, errors: dict[str, tuple[str, dict[str, Any]]]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Form:
    """A checked follow-up form, in the units the specification's form uses."""

    registry: str
    symptoms: tuple[str, ...]
    systolic: int
    diastolic: int
    heart_rate: int
    fasting_glucose: float | None
    weight: float
    height: float
    bmi: float
    cigarettes: int | None
    alcohol: float | None
    exercise_sessions: int | None
    exercise_minutes: int | None
    salt: str
    psychology: str
    adherence: str
    adverse_reaction: bool
    adverse_reaction_text: str
    adverse_reaction_unmanageable: bool
    new_complication: bool
    complication_text: str


def symptoms_for(registry_key: str) -> list[str]:
    """The danger-sign symptom codes the specification lists for a registry, in the data file's order."""
    known = followup.rules()["classification"]["emergency"]["symptoms"]
    return [code for code, spec in known.items() if registry_key in spec["in"]]


def _number(key: str, text: str, errors: dict[str, tuple[str, dict[str, Any]]]) -> float | None:
    label, low, high, decimals, unit = NUMBERS[key]
    text = (text or "").strip().replace(",", ".")
    if not text and key in OPTIONAL_NUMBERS:
        return None
    try:
        value = float(text) if 0 < len(text) <= 8 else None
    except ValueError:
        value = None
    if value is None or value != value or not low <= value <= high:
        errors[key] = (OUT_OF_RANGE, {"what": label, "low": f"{low:g}", "high": f"{high:g}", "unit": unit})
        return None
    return round(value, decimals) if decimals else float(round(value))


def _text(key: str, form: Mapping[str, str], errors: dict[str, tuple[str, dict[str, Any]]]) -> str:
    text = (form.get(key) or "").strip()
    if len(text) > MAX_TEXT:
        errors[key] = (TOO_LONG, {"limit": MAX_TEXT})
        return ""
    return text


def parse_form(form: Mapping[str, str], *, registered: Iterable[str]) -> Form:
    """Check a follow-up form; FollowUpInvalid names every mistake at once."""
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    key = form.get("registry", "")
    if key not in followup.REGISTRIES or key not in set(registered):
        errors["registry"] = (NOT_ON_REGISTRY, {})
    offered = symptoms_for(key) if key in followup.REGISTRIES else []
    chosen = [name.removeprefix("symptom:") for name, value in form.items()
              if name.startswith("symptom:") and value]
    if any(code not in offered for code in chosen):
        errors["symptoms"] = (UNKNOWN_SYMPTOM, {})
    numbers = {name: _number(name, form.get(name, ""), errors) for name in NUMBERS if name != "fasting_glucose"}
    glucose_text = (form.get("fasting_glucose") or "").strip()
    glucose = _number("fasting_glucose", glucose_text, errors) if glucose_text else None
    if key == "diabetes" and not glucose_text:
        errors["fasting_glucose"] = (NEEDS_GLUCOSE, {})
    if "systolic" not in errors and "diastolic" not in errors and numbers["diastolic"] >= numbers["systolic"]:
        errors["diastolic"] = (DIASTOLIC_BELOW, {})
    picked = {}
    for name, options in CHOICES.items():
        picked[name] = form.get(name, "")
        if picked[name] not in options:
            errors[name] = (CHOOSE, {})
    reaction_text = _text("adverse_reaction_text", form, errors)
    if picked["adverse_reaction"] == "yes" and not reaction_text and "adverse_reaction_text" not in errors:
        errors["adverse_reaction_text"] = (DESCRIBE_REACTION, {})
    complication_text = _text("complication_text", form, errors)
    if errors:
        raise FollowUpInvalid(errors)
    weight, height = float(numbers["weight"] or 0), float(numbers["height"] or 0)
    bmi = round(weight / (height / 100) ** 2, 1)

    def whole(name: str) -> int | None:
        return None if numbers[name] is None else int(numbers[name])

    return Form(registry=key, symptoms=tuple(c for c in offered if c in chosen),
                systolic=int(numbers["systolic"] or 0), diastolic=int(numbers["diastolic"] or 0),
                heart_rate=int(numbers["heart_rate"] or 0), fasting_glucose=glucose, weight=weight, height=height,
                bmi=bmi, cigarettes=whole("cigarettes"), alcohol=numbers["alcohol"],
                exercise_sessions=whole("exercise_sessions"), exercise_minutes=whole("exercise_minutes"),
                salt=picked["salt"], psychology=picked["psychology"], adherence=picked["adherence"],
                adverse_reaction=picked["adverse_reaction"] == "yes",
                adverse_reaction_text=reaction_text if picked["adverse_reaction"] == "yes" else "",
                adverse_reaction_unmanageable=picked["adverse_reaction"] == "yes"
                and bool(form.get("adverse_reaction_unmanageable")),
                new_complication=bool(form.get("new_complication")), complication_text=complication_text)


def classify(form: Form, *, age: int | None, previous: str | None) -> followup.Classification:
    """The specification's class of this visit, given the previous visit's class (no override)."""
    # Without a recorded birth date the under-65 target (the lower one) is applied.
    return followup.classify_visit(
        registry=form.registry, age=age if age is not None else 0, systolic=form.systolic,
        diastolic=form.diastolic, fasting_glucose=form.fasting_glucose, symptoms=form.symptoms,
        heart_rate=form.heart_rate, adverse_reaction=form.adverse_reaction,
        adverse_reaction_unmanageable=form.adverse_reaction_unmanageable, new_complication=form.new_complication,
        previous_classification=previous)

