"""Laboratory knowledge: analytes (LOINC, UCUM), reference intervals, grades, flags, delta checks, QC, interpretation.

Pure data (data/*.yaml, every record sourced) and functions; nothing here touches the store or the network.
"""

from smartcare.knowledge.lab.delta import delta_check
from smartcare.knowledge.lab.interpretation import interpret
from smartcare.knowledge.lab.model import (
    Analyte,
    Answer,
    DeltaResult,
    GradeInterpretation,
    Interpretation,
    LabKnowledgeError,
    PanelFinding,
    Range,
    WestgardViolation,
)
from smartcare.knowledge.lab.ordinal import (
    grade,
    grade_flag,
    interpret_grade,
    interpret_grades,
    ordinal_system,
)
from smartcare.knowledge.lab.panels import interpret_panel
from smartcare.knowledge.lab.qc import westgard
from smartcare.knowledge.lab.ranges import analyte, analytes, flag, reference_range
from smartcare.knowledge.lab.units import convert, ucum

__all__ = [
    "Analyte",
    "Answer",
    "DeltaResult",
    "GradeInterpretation",
    "Interpretation",
    "LabKnowledgeError",
    "PanelFinding",
    "Range",
    "WestgardViolation",
    "analyte",
    "analytes",
    "convert",
    "delta_check",
    "flag",
    "grade",
    "grade_flag",
    "interpret",
    "interpret_grade",
    "interpret_grades",
    "interpret_panel",
    "ordinal_system",
    "reference_range",
    "ucum",
    "westgard",
]
