"""Graded (ordinal) results such as the urine test strip: a grade as analyzers and people write it, its flag,
what it means, and the strip's patterns read together (a likely urinary infection ...).

A grade that is not among the analyte's normal answers is abnormal: flag "A"; a normal one is "N". Dipstick
grades have no critical limits.
"""

from collections.abc import Mapping, Sequence

from smartcare.knowledge.lab.data import interpretation_table, ordinal_data, panel_table
from smartcare.knowledge.lab.model import Analyte, Answer, GradeInterpretation, PanelFinding
from smartcare.knowledge.lab.ranges import analyte

NITRITE, LEUKOCYTE_ESTERASE, URINE_GLUCOSE, URINE_PROTEIN = "5802-4", "5799-2", "25428-4", "20454-5"
MAX_GRADE_TEXT = 40
MAX_GRADES = 200


def ordinal_system() -> str:
    """The URI of SmartCare's local CodeSystem of grades (neg, trace, 1+ ... pos, normal)."""
    return ordinal_data().system


def _ordinal(code_or_name: str) -> Analyte | None:
    item = analyte(code_or_name)
    return item if item is not None and item.ordinal else None


def grade(code_or_name: str, text: str) -> Answer | None:
    """The analyte's answer written as `text` (a code, an English or Chinese label, or an analyzer's spelling such
    as NEG, +-, ++, POS; case and spaces ignored), or None when the analyte is not graded or the text is no grade
    of it."""
    item = _ordinal(code_or_name)
    if item is None or not isinstance(text, str) or len(text) > MAX_GRADE_TEXT:
        return None
    wanted = " ".join(text.split()).casefold()
    spellings = ordinal_data().spellings
    return next((answer for answer in item.answers if wanted in spellings[answer.code]), None)


def grade_flag(answer: Answer) -> str:
    """The flag of a grade: N when it is one of the analyte's normal answers, else A (abnormal)."""
    return "N" if answer.normal else "A"


def interpret_grade(code_or_name: str, code: str) -> GradeInterpretation:
    """What this grade of this analyte means (ValueError for an analyte that is not graded or a code not on its
    scale)."""
    item = _ordinal(code_or_name)
    if item is None:
        raise ValueError(f"{code_or_name!r} is not a graded analyte")
    answer = item.answer(code) if isinstance(code, str) else None
    if answer is None:
        raise ValueError(f"{code!r} is not a grade of {item.name_en}")
    defaults, table = interpretation_table()
    record = table.get(item.loinc, {})
    usual = tuple(a for a in item.answers if a.normal)
    if answer.normal:
        # The test's own source names where its usual result comes from; the scales' source covers the rest.
        text, source, level = defaults["usual"], record.get("source") or ordinal_data().source, "normal"
    else:
        text = record.get("abnormal") or defaults["abnormal"]
        source = record["source"] if "abnormal" in record else defaults["source"]
        level = "abnormal"
    return GradeInterpretation(loinc=item.loinc, answer=answer, flag=grade_flag(answer), level=level,
                               meaning_en=text["en"], meaning_zh=text["zh"], action=text.get("action", "routine"),
                               usual=usual, source=" ".join(source.split()))


def _at_least(grades: Mapping[str, str], loinc: str, lowest: str) -> bool:
    item = analyte(loinc)
    if item is None or loinc not in grades:
        return False
    codes = [a.code for a in item.answers]
    return grades[loinc] in codes and lowest in codes and codes.index(grades[loinc]) >= codes.index(lowest)


def _finding(key: str, *names: str) -> PanelFinding:
    row = panel_table()[key]
    return PanelFinding(key=key, panel=row["panel"], meaning_en=row["en"], meaning_zh=row["zh"],
                        action=row["action"], analytes=names, source=row["source"])


def _checked(grades: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(grades, Mapping) or len(grades) > MAX_GRADES:
        raise ValueError(f"grades must be a mapping of at most {MAX_GRADES} analytes to grade codes")
    checked = {}
    for name, code in grades.items():
        item = _ordinal(name) if isinstance(name, str) else None
        if item is not None and isinstance(code, str) and item.answer(code) is not None:
            checked[item.loinc] = code
    return checked


def interpret_grades(grades: Mapping[str, str], *,
                     earlier: Mapping[str, Sequence[str]] | None = None) -> list[PanelFinding]:
    """Patterns across a urine strip: grade codes keyed by LOINC (or analyte name). `earlier` holds, by LOINC,
    the grade codes of the patient's previous results of the same tests, which tell protein found once from
    protein found again. Analytes that are not graded and codes not on their scale are ignored."""
    now = _checked(grades)
    found = []
    table = panel_table()
    uti = table["urinary-tract-infection"]
    if _at_least(now, NITRITE, uti["nitrite_from"]) and _at_least(now, LEUKOCYTE_ESTERASE,
                                                                 uti["leukocyte_esterase_from"]):
        found.append(_finding("urinary-tract-infection", NITRITE, LEUKOCYTE_ESTERASE))
    if _at_least(now, URINE_GLUCOSE, table["glucosuria"]["glucose_from"]):
        found.append(_finding("glucosuria", URINE_GLUCOSE))
    if _at_least(now, URINE_PROTEIN, table["proteinuria-once"]["protein_from"]):
        lowest = table["proteinuria-repeated"]["protein_from"]
        before = (earlier or {}).get(URINE_PROTEIN, ())
        again = any(_at_least({URINE_PROTEIN: code}, URINE_PROTEIN, lowest) for code in before)
        found.append(_finding("proteinuria-repeated" if again else "proteinuria-once", URINE_PROTEIN))
    return found
