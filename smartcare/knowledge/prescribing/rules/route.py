"""Routes of administration: the words prescriptions use for them, and the check that the drug comes that way."""

from smartcare.knowledge.prescribing.rules.base import Finding, Line, Prescription, cite

ROUTE_ZH = {
    "oral": "口服", "intravenous": "静脉", "intramuscular": "肌内注射", "subcutaneous": "皮下注射",
    "inhaled": "吸入", "topical": "外用", "rectal": "直肠", "sublingual": "舌下", "transdermal": "经皮",
    "ophthalmic": "滴眼", "otic": "滴耳", "nasal": "经鼻", "vaginal": "阴道", "buccal": "口腔黏膜",
    "intrathecal": "鞘内注射", "intradermal": "皮内注射",
}
_ALIASES = {
    "po": "oral", "by mouth": "oral", "orally": "oral", "口服": "oral",
    "iv": "intravenous", "i.v.": "intravenous", "ivgtt": "intravenous", "iv infusion": "intravenous",
    "intravenous infusion": "intravenous", "intravenous injection": "intravenous", "静脉": "intravenous",
    "静脉注射": "intravenous", "静脉滴注": "intravenous", "静滴": "intravenous", "静推": "intravenous",
    "im": "intramuscular", "i.m.": "intramuscular", "肌注": "intramuscular", "肌内注射": "intramuscular",
    "肌肉注射": "intramuscular", "sc": "subcutaneous", "s.c.": "subcutaneous", "subcut": "subcutaneous",
    "sq": "subcutaneous", "皮下": "subcutaneous", "皮下注射": "subcutaneous",
    "inhalation": "inhaled", "inh": "inhaled", "吸入": "inhaled", "雾化吸入": "inhaled",
    "外用": "topical", "cutaneous": "topical", "pr": "rectal", "per rectum": "rectal", "直肠": "rectal",
    "纳肛": "rectal", "sl": "sublingual", "舌下": "sublingual", "舌下含服": "sublingual",
    "经皮": "transdermal", "贴敷": "transdermal", "eye": "ophthalmic", "滴眼": "ophthalmic",
    "ear": "otic", "滴耳": "otic", "intranasal": "nasal", "经鼻": "nasal", "鼻用": "nasal", "滴鼻": "nasal",
    "pv": "vaginal", "阴道": "vaginal", "阴道给药": "vaginal", "it": "intrathecal", "鞘内": "intrathecal",
    "鞘内注射": "intrathecal", "id": "intradermal", "皮内": "intradermal", "皮内注射": "intradermal",
}


def normalise_route(text: str) -> str:
    """The formulary's word for a route ('PO', '口服' -> 'oral'); other words are kept, lower-cased."""
    key = " ".join(text.strip().lower().split())
    return _ALIASES.get(key, key)


def route_zh(route: str) -> str:
    """The Chinese name of a route, or the route itself when it has none here."""
    return ROUTE_ZH.get(route, route)


def check(prescription: Prescription) -> list[Finding]:
    """A moderate finding for a line ordered by a route none of the drug's stocked forms use."""
    findings = []
    for line in prescription.lines:
        routes = sorted({form.route for form in line.drug.forms})
        if line.route and routes and line.route not in routes:
            findings.append(_finding(line, routes))
    return findings


def _finding(line: Line, routes: list[str]) -> Finding:
    given = line.route or ""
    listed_en = ", ".join(routes)
    listed_zh = "、".join(route_zh(route) for route in routes)
    source_en, source_zh = cite(line.drug.source)
    return Finding(
        rule="route", severity="moderate", refs=(line.ref,), drugs=(line.drug.key,), conditions=(),
        summary_en=f"{line.name_en} is not stocked for {given} use",
        summary_zh=f"{line.name_zh}无{route_zh(given)}给药途径",
        detail_en=f"The formulary stocks {line.name_en} only for {listed_en} use; the line asks for {given}."
                  + source_en,
        detail_zh=f"本处方集中{line.name_zh}的剂型仅供{listed_zh}使用，而处方为{route_zh(given)}。{source_zh}",
        advice_en=f"Order {line.name_en} by an available route ({listed_en}) or choose a drug that comes {given}.",
        advice_zh=f"请按现有途径（{listed_zh}）开具{line.name_zh}，或选择可{route_zh(given)}给药的药物。",
        source=line.drug.source,
    )
