"""Therapeutic duplication: the same ingredient twice, or two drugs of one chemical subgroup (ATC level 4)."""

from smartcare.knowledge.prescribing.rules.base import Finding, Line, Prescription, pairs

SOURCE = "WHO Collaborating Centre for Drug Statistics Methodology, ATC classification structure (levels 1-5)"
ATC_LEVEL_4 = 5
# Groups whose members are routinely combined on purpose: a short-acting beta2 agonist as the reliever beside a
# long-acting one as the controller (both R03AC) is standard asthma and COPD care, not duplication.
ROUTINELY_COMBINED = frozenset({"R03AC"})


def check(prescription: Prescription) -> list[Finding]:
    """A high finding for a repeated ingredient, a moderate one for two drugs of the same ATC level-4 group."""
    findings = []
    for first, second in pairs(prescription):
        shared = [key for key in first.drug.ingredient_keys if key in second.drug.ingredient_keys]
        if shared:
            findings.append(_same_ingredient(first, second, shared))
            continue
        groups = sorted((_level_4(first) & _level_4(second)) - ROUTINELY_COMBINED)
        if groups:
            findings.append(_same_group(first, second, groups[0]))
    return findings


def _level_4(line: Line) -> set[str]:
    return {code[:ATC_LEVEL_4] for code in line.drug.atc if len(code) >= ATC_LEVEL_4}


def _later_new(first: Line, second: Line) -> Line:
    return first if second.current else second


def _described(first: Line, second: Line) -> tuple[str, str]:
    if first.drug.key == second.drug.key:
        en, zh = f"{first.name_en} is ordered twice", f"{first.name_zh}重复开具"
    else:
        en, zh = f"{first.name_en} + {second.name_en}", f"{first.name_zh} + {second.name_zh}"
    if second.current:
        en += " (one of them is already being taken)"
        zh += "（其中一种患者正在使用）"
    return en, zh


def _same_ingredient(first: Line, second: Line, shared: list[str]) -> Finding:
    what_en, what_zh = _described(first, second)
    known = {line.drug.key: line.drug for line in (first, second)}
    names = ", ".join(known[key].name_en if key in known else key for key in shared)
    names_zh = "、".join(known[key].name_zh if key in known else key for key in shared)
    keep = _later_new(first, second)
    return Finding(
        rule="duplicate", severity="high", refs=(first.ref, second.ref), drugs=(first.drug.key, second.drug.key),
        conditions=(),
        summary_en=f"Duplicate ingredient: {what_en}",
        summary_zh=f"成分重复：{what_zh}",
        detail_en=(f"Both lines contain the same active ingredient ({names}), so the patient would get it twice "
                   f"and the daily amount adds up. Source: {SOURCE}."),
        detail_zh=f"两者含相同活性成分（{names_zh}），患者将重复用药，日剂量叠加。依据：{SOURCE}。",
        advice_en="Keep one product and count the ingredient's total daily dose.",
        advice_zh="只保留一种制剂，并核算该成分的每日总量。",
        source=SOURCE,
        suggestion={"action": "remove", "ref": keep.ref},
    )


def _same_group(first: Line, second: Line, group: str) -> Finding:
    what_en, what_zh = _described(first, second)
    return Finding(
        rule="duplicate", severity="moderate", refs=(first.ref, second.ref),
        drugs=(first.drug.key, second.drug.key), conditions=(),
        summary_en=f"Two drugs of the same class: {what_en}",
        summary_zh=f"同类药物重复：{what_zh}",
        detail_en=(f"Both belong to ATC group {group}; two drugs of one chemical subgroup rarely add benefit "
                   f"and add adverse effects. Source: {SOURCE}."),
        detail_zh=f"两者同属 ATC {group} 类；同一化学亚组的两种药物联用很少增加疗效，却增加不良反应。依据：{SOURCE}。",
        advice_en="Use one drug of this class unless the combination is deliberate and documented.",
        advice_zh="除非有意联用并已记录理由，同类药物只用一种。",
        source=SOURCE,
        suggestion={"action": "remove", "ref": _later_new(first, second).ref},
    )
