"""A region's weekly counts from before SmartCare: read from CSV with every fault named, kept by disease and year."""

from datetime import date

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import AccessDenied
from smartcare.regional.public_health import history

HEADER = "disease,district,week,count\n"
OFFICER = AccessContext(kind="user", name="officer", roles=frozenset({"public_health_officer"}), subject="u-officer")


def test_weeks_are_read_in_iso_notation_or_as_mondays_and_an_empty_district_is_unknown():
    rows = history.parse_csv(HEADER + "influenza,339901,2024-W01,12\ninfluenza,,2024-01-08,3\n")
    assert rows == [history.WeekCount("influenza", "339901", date(2024, 1, 1), 12),
                    history.WeekCount("influenza", None, date(2024, 1, 8), 3)]


@pytest.mark.parametrize(("text", "message"), [
    ("week,count\n2024-W01,1\n", "the first line must be the header disease,district,week,count"),
    (HEADER + "flu,339901,2024-W01,1\n", "line 2: 'flu' is not a disease of the notifiable list"),
    (HEADER + "influenza,Hexi,2024-W01,1\n", "line 2: 'Hexi' is not a district code of the region"),
    (HEADER + "influenza,339901,2024-01-03,1\n", "line 2: the week must be YYYY-Www or the Monday"),
    (HEADER + "influenza,339901,2024-W01,-1\n", "line 2: the count must be a whole number"),
    (HEADER + "influenza,339901,2024-W01,1\ninfluenza,339901,2024-01-01,2\n", "line 3: the week 2024-01-01"),
    (HEADER, "the file has no rows"),
])
def test_a_bad_history_file_names_each_line_at_fault(text, message):
    with pytest.raises(history.HistoryInvalid, match=message):
        history.parse_csv(text)


def test_at_most_twenty_problems_are_listed():
    text = HEADER + "".join(f"flu,,2024-W01,{n}\n" for n in range(100))
    with pytest.raises(history.HistoryInvalid) as raised:
        history.parse_csv(text)
    assert len(raised.value.problems) == 20


def test_imported_weeks_read_back_by_disease_and_district_and_a_second_import_of_a_year_replaces_it(engine):
    first = history.parse_csv(HEADER + "influenza,339901,2023-W52,7\ninfluenza,339901,2024-W01,9\n"
                                       "measles,,2024-W02,1\n")
    with unit_of_work(engine) as conn:
        assert history.import_history(conn, ctx=OFFICER, counts=first, source="NNDRS export 2024") == 3
    again = history.parse_csv(HEADER + "influenza,339901,2024-W01,11\n")
    with unit_of_work(engine) as conn:
        history.import_history(conn, ctx=OFFICER, counts=again, source="corrected")
    with unit_of_work(engine) as conn:
        weeks = history.weekly_history(conn)
        entries = audit.search(conn, agent="user/officer")
    assert weeks == {("influenza", "339901"): {date(2023, 12, 25): 7, date(2024, 1, 1): 11},
                     ("measles", None): {date(2024, 1, 8): 1}}
    assert [(e["action"], e["subtype"]) for e in entries] == [("U", "update")] * 2


def test_only_public_health_officers_import_history(engine):
    doctor = AccessContext(kind="user", name="doc", roles=frozenset({"doctor"}), subject="u-doc")
    with unit_of_work(engine) as conn, pytest.raises(AccessDenied):
        history.import_history(conn, ctx=doctor, counts=[], source="x")


def test_the_command_imports_a_file_and_refuses_a_bad_one_with_each_fault(engine, tmp_path):
    from typer.testing import CliRunner

    from smartcare.cli import app

    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(HEADER + "influenza,339901,2024-W01,9\ninfluenza,339902,2024-W01,4\n", encoding="utf-8")
    bad.write_text(HEADER + "flu,339901,2024-W01,9\ninfluenza,339901,2024-W01,x\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["surveillance", "import-history", str(good), "--source", "NNDRS 2024"])
    assert result.exit_code == 0 and "Imported 2 weekly counts as 1 disease-years" in result.output
    refused = CliRunner().invoke(app, ["surveillance", "import-history", str(bad)])
    assert refused.exit_code == 2 and "line 2: 'flu'" in refused.output and "line 3: the count" in refused.output
    with unit_of_work(engine) as conn:
        assert history.weekly_history(conn)[("influenza", "339902")] == {date(2024, 1, 1): 4}
