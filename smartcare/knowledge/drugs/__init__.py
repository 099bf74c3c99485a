"""Drug knowledge: the formulary (doses, organ rules, contraindications), allergy classes and interactions."""

from smartcare.knowledge.drugs.formulary import Formulary, default, load
from smartcare.knowledge.drugs.model import (
    AllergyClass,
    ConditionRule,
    DoseLimit,
    Drug,
    Form,
    Interaction,
    OrganRule,
    TypicalDose,
)
from smartcare.knowledge.drugs.records import KnowledgeDataError

__all__ = [
    "AllergyClass", "ConditionRule", "DoseLimit", "Drug", "Form", "Formulary", "Interaction", "KnowledgeDataError",
    "OrganRule", "TypicalDose", "default", "load",
]
