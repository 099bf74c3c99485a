"""Laboratory knowledge: analytes (LOINC, UCUM), reference intervals, flags, delta checks, QC and interpretation.

Pure data (data/*.yaml, every record sourced) and functions; nothing here touches the store or the network.
"""

from smartcare.knowledge.lab.delta import delta_check
from smartcare.knowledge.lab.interpretation import interpret
from smartcare.knowledge.lab.model import (
    Analyte,
    DeltaResult,
    Interpretation,
    LabKnowledgeError,
    PanelFinding,
    Range,
    WestgardViolation,
)
from smartcare.knowledge.lab.panels import interpret_panel
from smartcare.knowledge.lab.qc import westgard
from smartcare.knowledge.lab.ranges import analyte, analytes, flag, reference_range
from smartcare.knowledge.lab.units import convert, ucum

__all__ = [
    "Analyte",
    "DeltaResult",
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
    "interpret",
    "interpret_panel",
    "reference_range",
    "ucum",
    "westgard",
]
