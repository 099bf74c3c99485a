"""Frequency checks: codes the audit cannot read, and once-weekly drugs ordered every day."""

from smartcare.knowledge.prescribing.rules.base import Finding, Line, Prescription, cite


def weekly_only(line: Line) -> bool:
    """True when every usual dose of the drug is given once a week (methotrexate for arthritis, for example)."""
    typical = line.drug.typical
    return bool(typical) and all(dose.frequency == "QW" for dose in typical)


def check(prescription: Prescription) -> list[Finding]:
    """High findings for an unreadable frequency and for a weekly drug ordered daily or more often."""
    findings = []
    for line in prescription.lines:
        given = line.order.frequency
        if given is not None and line.frequency is None:
            findings.append(_unknown(line, given))
        elif line.frequency is not None and line.frequency.daily_or_more and weekly_only(line):
            findings.append(_weekly_ordered_daily(line))
    return findings


def _unknown(line: Line, given: str) -> Finding:
    source = "SmartCare prescription conventions: frequency codes QD, BID, TID, QID, QN, QOD, QW, QxH, PRN, STAT"
    return Finding(
        rule="frequency", severity="high", refs=(line.ref,), drugs=(line.drug.key,), conditions=(),
        summary_en=f"{line.name_en}: frequency {given!r} is not understood",
        summary_zh=f"{line.name_zh}：无法识别给药频次“{given}”",
        detail_en=f"{given!r} is not a dosing frequency the audit knows, so the daily dose was not checked. "
                  f"Source: {source}.",
        detail_zh=f"“{given}”不是可识别的给药频次，因此未能核对日剂量。依据：{source}。",
        advice_en="Write the frequency as a standard code (QD, BID, TID, QID, Q8H, QW, PRN ...).",
        advice_zh="请使用标准频次代码（QD、BID、TID、QID、Q8H、QW、PRN 等）。",
        source=source,
    )


def _weekly_ordered_daily(line: Line) -> Finding:
    typical = line.drug.typical[0]
    source = typical.source or line.drug.source
    source_en, source_zh = cite(source)
    code = line.frequency.code if line.frequency else ""
    return Finding(
        rule="frequency", severity="high", refs=(line.ref,), drugs=(line.drug.key,), conditions=(),
        summary_en=f"{line.name_en} is a once-weekly drug ordered {code}",
        summary_zh=f"{line.name_zh}为每周一次用药，却按{code}开具",
        detail_en=f"Every usual dose of {line.name_en} is given once a week; taking it {code} has caused fatal "
                  f"overdoses." + source_en,
        detail_zh=f"{line.name_zh}的常规用法均为每周一次，按{code}服用曾导致致命性过量。{source_zh}",
        advice_en="Order it once weekly (QW) and name the day of the week on the prescription.",
        advice_zh="改为每周一次（QW），并在处方上注明星期几服用。",
        source=source,
        suggestion={"action": "change-dose", "ref": line.ref, "dose": line.order.dose, "unit": line.order.unit,
                    "frequency": "QW"},
    )
