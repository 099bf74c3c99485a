"""Dispensing labels: how to take a medicine, in plain words in the patient's language."""

from typing import Any

from smartcare.knowledge.drugs import formulary
from smartcare.knowledge.prescribing.dosage import parse_frequency
from smartcare.knowledge.prescribing.facts import ROUTES_BY_SNOMED

ATC = "http://www.whocc.no/atc"
_FREQUENCY_WORDS = {
    "QD": ("once a day", "每日1次"), "BID": ("twice a day", "每日2次"), "TID": ("three times a day", "每日3次"),
    "QID": ("four times a day", "每日4次"), "QN": ("once at bedtime", "每晚睡前1次"),
    "QOD": ("every other day", "隔日1次"), "QW": ("once a week, on the same day each week", "每周1次（每周同一天）"),
    "BIW": ("twice a week", "每周2次"), "PRN": ("only when needed", "必要时使用"), "STAT": ("once, straight away", "立即使用1次"),
}
_ROUTE_WORDS = {
    "oral": ("by mouth", "口服"), "inhaled": ("breathe in", "吸入"), "sublingual": ("under the tongue", "舌下含服"),
    "subcutaneous": ("injected under the skin", "皮下注射"), "intravenous": ("into a vein (given by a nurse)", "静脉给药（由护士执行）"),
    "intramuscular": ("injected into a muscle", "肌内注射"), "topical": ("on the skin", "外用，涂于患处"),
    "rectal": ("into the back passage", "直肠给药"), "ophthalmic": ("into the eye", "滴眼"), "otic": ("into the ear", "滴耳"),
    "nasal": ("into the nose", "鼻腔给药"), "vaginal": ("into the vagina", "阴道给药"),
    "transdermal": ("as a patch on the skin", "贴于皮肤"),
}


def _frequency_words(code: str, zh: bool) -> str:
    words = _FREQUENCY_WORDS.get(code)
    if words:
        return words[1] if zh else words[0]
    if code.startswith("Q") and code.endswith("H") and code[1:-1].isdigit():
        return f"每{code[1:-1]}小时1次" if zh else f"every {code[1:-1]} hours"
    return code


def medicine_name(order: dict[str, Any], *, zh: bool) -> str:
    """The ordered medicine's name in the reader's language (the formulary's, when it knows the ATC code)."""
    concept = order.get("medicationCodeableConcept") or {}
    atc = next((c.get("code") for c in concept.get("coding", []) if c.get("system") == ATC), None)
    drug = formulary.default().find(atc) if atc else None
    if drug is not None:
        return drug.name_zh if zh else drug.name_en
    return concept.get("text") or next((c.get("display") for c in concept.get("coding", [])), "") or "medicine"


def label(order: dict[str, Any], *, language: str = "zh") -> str:
    """The label text for a MedicationRequest: the medicine, how much, how, how often and for how long."""
    zh = language.lower().startswith("zh")
    dosage = (order.get("dosageInstruction") or [{}])[0]
    quantity = ((dosage.get("doseAndRate") or [{}])[0] or {}).get("doseQuantity") or {}
    amount = f"{quantity['value']:g} {quantity.get('unit', '')}".strip() if isinstance(
        quantity.get("value"), int | float) else ""
    timing = dosage.get("timing") or {}
    code_text = next((c.get("code") for c in (timing.get("code") or {}).get("coding", [])), "") or ""
    parsed = parse_frequency(code_text) if code_text else None
    frequency = _frequency_words(parsed.code if parsed else code_text, zh) if code_text else ""
    route_code = next((c.get("code") for c in (dosage.get("route") or {}).get("coding", [])), None)
    route = ROUTES_BY_SNOMED.get(route_code or "", ((dosage.get("route") or {}).get("text") or "").lower())
    route_words = _ROUTE_WORDS.get(route, (route, route))
    days = ((order.get("dispenseRequest") or {}).get("expectedSupplyDuration") or {}).get("value")
    extra = dosage.get("patientInstruction", "")
    name = medicine_name(order, zh=zh)
    if zh:
        parts = [p for p in (route_words[1], f"每次{amount}" if amount else "", frequency,
                             f"共{days:g}天" if isinstance(days, int | float) else "") if p]
        text = f"{name}：{'，'.join(parts)}。"
        return f"{text}{extra}" if extra else text
    how = " ".join(p for p in (f"take {amount}" if amount else "take", route_words[0], frequency) if p)
    text = f"{name}: {how}" + (f", for {days:g} days." if isinstance(days, int | float) else ".")
    return f"{text} {extra}".strip()
