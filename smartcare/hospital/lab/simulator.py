"""An analyzer simulator for the demo: ORU^R01 results for the open laboratory orders that have been accessioned.

Values are drawn around the middle of each analyte's reference interval for the patient's sex and age, with a
few outside it (and now and then beyond a critical limit) so the demo shows flags and the critical-value loop.
Graded analytes (the urine strip) come as the analyzers send them, coded (CWE) or as text (ST) in their own
spellings: mostly the usual result, some strips with a story (a urinary infection, sugar, protein) so the demo
shows the abnormal grades and the patterns read together.
It reads the orders as the platform (it stands in for the instrument's own order list) and sends the results
over MLLP like a real analyzer, so everything after the wire is the production path.
"""

import random
from datetime import date
from typing import Any

from smartcare.fhir import gateway
from smartcare.hospital.lab.hl7_results import PLACER
from smartcare.knowledge import lab
from smartcare.knowledge.orders import catalogue
from smartcare.platform import clock
from smartcare.platform.security.context import SYSTEM

LOINC = "http://loinc.org"
OUT_OF_RANGE = 0.15
CRITICAL = 0.02
# How analyzers write each grade; the simulator picks one, so the interface's reading of them is exercised.
SPELLINGS = {"neg": ("NEG", "Negative", "-"), "trace": ("TRACE", "+-", "Trace"), "1+": ("1+", "+"),
             "2+": ("2+", "++"), "3+": ("3+", "+++"), "4+": ("4+", "++++"), "pos": ("POS", "Positive"),
             "normal": ("NORMAL", "Normal")}
# Urine strips with a story: (share of strips, grades by LOINC); the rest read as usual but for a stray grade.
STRIP_STORIES = ((0.15, {"5802-4": "pos", "5799-2": "2+", "5794-3": "1+"}),
                 (0.08, {"25428-4": "2+", "2514-8": "trace"}),
                 (0.08, {"20454-5": "1+"}))


def _value(rng: random.Random, interval: lab.Range, critical: float = CRITICAL) -> float:
    low = interval.low if interval.low is not None else (interval.high or 1) * 0.5
    high = interval.high if interval.high is not None else low * 2 or 1
    roll = rng.random()
    if roll < critical and (interval.critical_high is not None or interval.critical_low is not None):
        return (interval.critical_high * 1.1 if interval.critical_high is not None else interval.critical_low * 0.8)
    if roll < max(OUT_OF_RANGE, critical):
        return high * rng.uniform(1.05, 1.4) if rng.random() < 0.6 else low * rng.uniform(0.6, 0.95)
    return rng.uniform(low + (high - low) * 0.15, high - (high - low) * 0.15)


def _strip_story(rng: random.Random) -> dict[str, str]:
    roll = rng.random()
    for share, grades in STRIP_STORIES:
        if roll < share:
            return grades
        roll -= share
    return {}


def _grade(rng: random.Random, analyte: lab.Analyte, story: dict[str, str]) -> lab.Answer:
    usual = [a for a in analyte.answers if a.normal]
    if analyte.loinc in story and analyte.answer(story[analyte.loinc]) is not None:
        return analyte.answer(story[analyte.loinc]) or usual[-1]
    if not story and rng.random() < OUT_OF_RANGE / 5:
        return rng.choice([a for a in analyte.answers if not a.normal])
    return usual[-1]


def _graded_line(rng: random.Random, analyte: lab.Analyte, answer: lab.Answer, number: int) -> str:
    spelling = rng.choice(SPELLINGS.get(answer.code, (answer.code,)))
    value = f"CWE|{analyte.loinc}^{analyte.name_en}^LN||{spelling}^{answer.en}^99LAB" if rng.random() < 0.5 \
        else f"ST|{analyte.loinc}^{analyte.name_en}^LN||{spelling}"
    return f"OBX|{number}|{value}||||||F\r"


def _analytes(order: dict[str, Any]) -> list[lab.Analyte]:
    code = next((c.get("code") for c in (order.get("code") or {}).get("coding", []) if c.get("system") == LOINC), "")
    entry = catalogue.find_order(code) if code else None
    tests = getattr(entry, "tests", None) or ([entry] if entry is not None else [])
    return [a for t in tests if (a := lab.analyte(getattr(t, "loinc", "") or "")) is not None]


def _age_days(patient: dict[str, Any]) -> int | None:
    try:
        return (clock.now().date() - date.fromisoformat(str(patient.get("birthDate", ""))[:10])).days
    except ValueError:
        return None


def result_message(order: dict[str, Any], patient: dict[str, Any], *, rng: random.Random, number: int,
                   critical: float = CRITICAL) -> str | None:
    """The ORU^R01 an analyzer would send for one accessioned order, or None when nothing in it can be resulted."""
    placer = next((i["value"] for i in order.get("identifier", []) if i.get("system") == PLACER), None)
    pid = next((i.get("value") for i in patient.get("identifier", []) if i.get("value")), None)
    sex = patient.get("gender") if patient.get("gender") in ("female", "male") else None
    lines = []
    analytes = _analytes(order)
    story = _strip_story(rng) if any(a.ordinal for a in analytes) else {}
    for analyte in analytes:
        if analyte.ordinal:
            lines.append(_graded_line(rng, analyte, _grade(rng, analyte, story), len(lines) + 1))
            continue
        interval = lab.reference_range(analyte.loinc, sex=sex, age_days=_age_days(patient))
        if interval is None:
            continue
        value = round(_value(rng, interval, critical), analyte.decimals)
        lines.append(f"OBX|{len(lines) + 1}|NM|{analyte.loinc}^{analyte.name_en}^LN||{value}|{analyte.unit}^^UCUM"
                     f"|||||F\r")
    if not placer or not pid or not lines:
        return None
    stamp = clock.now().strftime("%Y%m%d%H%M%S")
    return (f"MSH|^~\\&|ANALYZER|LAB|SMARTCARE|HOSP|{stamp}||ORU^R01|SIM-{stamp}-{number}|P|2.5.1\r"
            f"PID|1||{pid}\rORC|RE|{placer}\rOBR|1|{placer}\r" + "".join(lines))


def _received(order: dict[str, Any]) -> bool:
    """True when a specimen of the order has reached the laboratory (an analyzer measures only what it holds)."""
    for ref in (s.get("reference", "") for s in order.get("specimen", [])):
        if ref.startswith("Specimen/") and gateway.read(SYSTEM, ref).get("status") == "available":
            return True
    return False


def pending_messages(*, limit: int, seed: int | None = None, critical: float = CRITICAL) -> list[str]:
    """Result messages for up to `limit` laboratory orders whose specimen the laboratory received, without a report.

    `critical` is the share of results beyond a critical limit (where the analyte has one): 1 makes every
    such result critical, which is how a demonstration or a test shows the critical-value loop for certain.
    """
    rng = random.Random(seed)
    orders = gateway.search(SYSTEM, "ServiceRequest", [("status", "active"), ("identifier", f"{PLACER}|"),
                                                       ("category", "http://snomed.info/sct|108252007"),
                                                       ("_count", str(limit * 3)), ("_total", "none")])
    messages = []
    for order in orders:
        if len(messages) >= limit:
            break
        if not _received(order) or gateway.search(SYSTEM, "DiagnosticReport", [
                ("based-on", f"ServiceRequest/{order['id']}"), ("_count", "1"), ("_total", "none")]):
            continue
        patient = gateway.read(SYSTEM, order["subject"]["reference"])
        message = result_message(order, patient, rng=rng, number=len(messages) + 1, critical=critical)
        if message is not None:
            messages.append(message)
    return messages
