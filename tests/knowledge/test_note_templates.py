"""SOAP note templates: one per clinical department, four sections, unique keys, UCUM units, sane bounds."""

import json
from pathlib import Path

import pytest

from smartcare.knowledge.notes import templates

FACILITIES = Path(__file__).parents[2] / "smartcare" / "demo" / "data" / "facilities.json"
NON_CLINICAL = {"radiology", "laboratory", "pharmacy", "public-health"}
UCUM = {"Cel", "/min", "mm[Hg]", "%", "kg", "cm", "mmol/L", "L/min", "mL/d", "wk", "{score}", "{decimal}",
        "{count}"}
# Values every number field must be able to hold (normal adult or child values) so bounds are not too tight.
MUST_ACCEPT = {"temperature": (36.0, 41.5), "heart_rate": (40, 180), "systolic_bp": (70, 220), "spo2": (70, 100),
               "weight": (3, 150), "gestational_age": (4, 42), "fetal_heart_rate": (110, 160),
               "iop_right": (10, 50), "visual_acuity_right": (0.1, 1.5), "gcs": (3, 15)}


def _clinical_departments() -> set[str]:
    data = json.loads(FACILITIES.read_text(encoding="utf-8"))
    return {d["key"] for d in data["departments"]} - NON_CLINICAL


def test_every_clinical_department_of_the_directory_has_its_own_template():
    keys = {t.key for t in templates.templates()}
    assert _clinical_departments() <= keys
    for department in _clinical_departments():
        assert templates.template_for(department).key == department


@pytest.mark.parametrize("template", templates.templates(), ids=lambda t: t.key)
def test_template_has_four_soap_sections_and_unique_keys(template):
    assert [s.key for s in template.sections] == ["subjective", "objective", "assessment", "plan"]
    keys = [f.key for s in template.sections for f in s.fields]
    assert len(keys) == len(set(keys))
    for key in ("chief_complaint", "history_present_illness", "allergies", "diagnoses", "treatment_plan"):
        assert template.field(key).required, key


@pytest.mark.parametrize("template", templates.templates(), ids=lambda t: t.key)
def test_fields_have_units_bounds_lengths_and_options(template):
    for field in (f for s in template.sections for f in s.fields):
        assert field.label_en and field.label_zh
        if field.kind in ("number", "vital"):
            assert field.unit in UCUM, field.key
            assert field.min < field.max, field.key
            low, high = MUST_ACCEPT.get(field.key, (field.min, field.max))
            assert field.min <= low and high <= field.max, field.key
        if field.kind == "vital":
            assert field.loinc, field.key
        if field.kind == "text":
            assert 1 <= field.max_length <= 5000, field.key
        if field.kind == "choice":
            values = [o.value for o in field.options]
            assert len(values) >= 2 and len(values) == len(set(values)), field.key


def test_department_specific_fields():
    assert templates.template_for("ophthalmology").field("iop_left").unit == "mm[Hg]"
    assert templates.template_for("ophthalmology").field("visual_acuity_left").required
    obstetric = templates.template_for("obstetrics-gynaecology")
    assert obstetric.field("fundal_height").unit == "cm"
    assert obstetric.field("fetal_heart_rate").unit == "/min"
    assert obstetric.field("gestational_age").unit == "wk"
    assert templates.template_for("paediatrics").field("weight_percentile").max == 100
    assert templates.template_for("ent").field("otoscopy").required
    assert templates.template_for("tcm").field("tcm_pattern").required
    assert templates.template_for("general").field("iop_left") is None


@pytest.mark.parametrize("unknown", ["", "radiology", "x" * 10_000, "'; DROP TABLE", None])
def test_unknown_departments_get_the_general_template(unknown):
    assert templates.template_for(unknown).key == templates.GENERAL
