"""Every possible condition the triage offers links to a consumer condition page that exists (or to none)."""

import yaml

from smartcare.knowledge.diseases import consumer
from smartcare.knowledge.triage import Presentation, assess
from smartcare.knowledge.triage.text import DATA_DIR


def _conditions() -> list[dict]:
    return yaml.safe_load((DATA_DIR / "conditions.yaml").read_text(encoding="utf-8"))["conditions"]


def test_every_condition_page_names_an_existing_consumer_page():
    missing = sorted(c["page"] for c in _conditions() if c.get("page") and consumer.get(c["page"]) is None)
    assert missing == []


def test_pages_that_exist_are_linked():
    linked = {c["key"]: c.get("page") for c in _conditions()}
    assert linked["upper-respiratory-infection"] == "common-cold"
    assert linked["pulmonary-embolism"] == "pulmonary-embolism"


def test_a_sore_throat_offers_conditions_whose_pages_open():
    found = assess(Presentation(text="sore throat for 3 days", age_years=30)).conditions
    assert found and all(consumer.get(c.page) is not None for c in found if c.page)
