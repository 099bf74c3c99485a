"""The MPI console: a regional administrator reviews undecided pairs side by side with each field's match weight,
links or keeps them apart, and unlinks, merges and unmerges identities, every step in the identity's history."""

import re

import pytest

from smartcare.fhir import store
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.security.signup import RESIDENT_ID_SYSTEM
from smartcare.regional.mpi import service
from smartcare.regional.mpi.tables import mpi_event
from tests.web_support import browser, form_token, make_user, sign_in

RESIDENT_ID = "110101197502030023"  # a valid PRC resident identity number (its check digit is 3)


def patient(res_id: str, name: dict, born: str, *, phone: str = "", source: str, id_number: str = "",
            postcode: str = "100020") -> dict:
    resource = {"resourceType": "Patient", "id": res_id, "name": [name], "birthDate": born, "gender": "female",
                "meta": {"source": source},
                "address": [{"use": "home", "line": ["朝阳路 12 号"], "city": "北京", "postalCode": postcode}]}
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone}]
    if id_number:
        resource["identifier"] = [{"system": RESIDENT_ID_SYSTEM, "value": id_number}]
    return resource


def stored_and_matched(engine, resource: dict) -> service.MatchResult:
    """The Patient stored as its institution sent it, then matched as the MPI's job does."""
    with unit_of_work(engine) as conn:
        kept = store.update(conn, SYSTEM, resource, res_type="Patient", res_id=resource["id"])
        return service.match_record(conn, SYSTEM, kept.resource, version=kept.version)


@pytest.fixture
def pair(engine) -> dict[str, str]:
    """Zhou Na at hospital A; at hospital B a Zhou Na without a phone, her birth day and month swapped and another
    postcode: a pair to review."""
    with unit_of_work(engine) as conn:
        for org, name in (("org-a", "第一人民医院"), ("org-b", "朝阳社区卫生服务中心")):
            store.update(conn, SYSTEM, {"resourceType": "Organization", "id": org, "name": name},
                         res_type="Organization", res_id=org)
    first = stored_and_matched(engine, patient("a1", {"text": "周娜"}, "1975-02-03", phone="13900001111",
                                               source="Organization/org-a", id_number=RESIDENT_ID))
    second = stored_and_matched(engine, patient("b1", {"family": "Zhou", "given": ["Na"]}, "1975-03-02",
                                                source="Organization/org-b", postcode="100022"))
    assert second.decision == "review" and len(second.reviews) == 1
    return {"review": second.reviews[0], "a1": first.identity_id, "b1": second.identity_id}


@pytest.fixture
def admin(engine):
    make_user(engine, "regional_admin")
    web = browser()
    sign_in(web, "regional.admin.test")
    return web


def section(page, review_id: str) -> str:
    return page.text.split(f'id="review-{review_id}"')[1].split("</article>")[0]


def test_the_queue_shows_both_records_side_by_side_with_each_fields_weight(engine, pair, admin):
    page = admin.get("/console/mpi")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    shown = section(page, pair["review"])
    assert "周娜" in shown and "Zhou" in shown and "Na" in shown
    assert "1975-02-03" in shown and "1975-03-02" in shown
    assert "第一人民医院" in shown and "朝阳社区卫生服务中心" in shown
    assert "••••••••••••••0023" in shown and RESIDENT_ID not in shown  # the ID number masked but its last 4
    assert "•••••••1111" in shown and "13900001111" not in shown
    row = shown.split("Birth date</th>")[1].split("</tr>")[0]
    assert "mpi-bar__fill--agree" in row  # day and month swapped: still speaks for the same person
    postcode_row = shown.split("Postcode</th>")[1].split("</tr>")[0]
    assert "mpi-bar__fill--disagree" in postcode_row and "100022" in postcode_row
    phone_row = shown.split("Phone</th>")[1].split("</tr>")[0]
    assert "missing, not compared" in phone_row
    assert re.search(r"Match probability \d+%", shown)
    with unit_of_work(engine) as conn:
        reads = audit.search(conn, agent="user/regional.admin.test", subtype="read")
    assert {e["patient"] for e in reads} == {"Patient/a1", "Patient/b1"}


def test_linking_a_pair_joins_the_identities_and_the_identity_page_tells_its_history(engine, pair, admin):
    page = admin.get("/console/mpi")
    done = admin.post(f"/console/mpi/reviews/{pair['review']}",
                      data={"csrf_token": form_token(page), "decision": "link", "reason": "checked the ID card"})
    assert done.status_code == 200
    assert "Linked: Patient/b1 now belongs to the same identity as Patient/a1" in done.text
    assert f'id="review-{pair["review"]}"' not in done.text and "Nothing is waiting for review" in done.text
    with unit_of_work(engine) as conn:
        assert service.identity_of(conn, "Patient/b1") == service.identity_of(conn, "Patient/a1") == pair["a1"]

    identity = admin.get(f"/console/mpi/identities/{pair['a1']}")
    assert identity.status_code == 200
    records = identity.text.split('id="records-title"')[1].split("</table>")[0]
    assert "Patient/a1" in records and "Patient/b1" in records and "周娜" in records
    history = identity.text.split('id="history-title"')[1]
    assert "Review decision" in history and "checked the ID card" in history
    assert "user/regional.admin.test" in history and "same person" in history

    again = admin.post(f"/console/mpi/reviews/{pair['review']}",
                       data={"csrf_token": form_token(page), "decision": "reject"})
    assert again.status_code == 409 and "This pair was already decided" in again.text


def test_different_people_keeps_them_apart_and_empties_the_queue(engine, pair, admin):
    page = admin.get("/console/mpi")
    done = admin.post(f"/console/mpi/reviews/{pair['review']}",
                      data={"csrf_token": form_token(page), "decision": "reject", "reason": "different mother"})
    assert done.status_code == 200 and "Kept apart" in done.text
    with unit_of_work(engine) as conn:
        assert service.identity_of(conn, "Patient/b1") != service.identity_of(conn, "Patient/a1")
        assert service.open_reviews(conn) == []
        assert service.history(conn, source="Patient/b1")[-1]["reason"] == "different mother"


def test_unlink_merge_and_unmerge_from_the_identity_page_are_kept_in_its_history(engine, pair, admin):
    page = admin.get(f"/console/mpi/identities/{pair['a1']}")
    token = form_token(page)
    merged = admin.post(f"/console/mpi/identities/{pair['a1']}/merge",
                        data={"csrf_token": token, "absorb": pair["b1"], "reason": "same person, new card"})
    assert merged.status_code == 200 and "was merged into this one" in merged.text
    assert "Patient/b1" in merged.text.split('id="records-title"')[1].split("</table>")[0]
    absorbed = admin.get(f"/console/mpi/identities/{pair['b1']}")
    assert "This identity was merged into another one" in absorbed.text

    undone = admin.post(f"/console/mpi/identities/{pair['b1']}/unmerge",
                        data={"csrf_token": token, "shown": pair["a1"], "reason": "mistake"})
    assert undone.status_code == 200 and "The merge was undone" in undone.text
    with unit_of_work(engine) as conn:
        assert service.sources_of(conn, pair["a1"]) == ["Patient/a1"]
        assert service.sources_of(conn, pair["b1"]) == ["Patient/b1"]

    no_reason = admin.post(f"/console/mpi/identities/{pair['a1']}/unlink",
                           data={"csrf_token": token, "source": "Patient/a1", "reason": "  "})
    assert no_reason.status_code == 400 and "Give a reason" in no_reason.text
    alone = admin.post(f"/console/mpi/identities/{pair['a1']}/unlink",
                       data={"csrf_token": token, "source": "Patient/a1", "reason": "registration error"})
    assert alone.status_code == 200 and "now has an identity of its own" in alone.text
    history = admin.get(f"/console/mpi/identities/{pair['a1']}").text.split('id="history-title"')[1]
    for what in ("Merged", "Merge undone", "Unlinked", "same person, new card", "mistake", "registration error"):
        assert what in history


@pytest.mark.parametrize(("path", "data", "status", "message"), [
    ("/console/mpi/reviews/nope", {"decision": "link"}, 404, "There is no such pair"),
    ("/console/mpi/reviews/{review}", {"decision": "maybe"}, 400, "Choose"),
    ("/console/mpi/reviews/{review}", {"decision": "link", "reason": "x" * 501}, 400, "at most 500 characters"),
    ("/console/mpi/identities/{a1}/merge", {"absorb": "{a1}"}, 400, "cannot be merged into itself"),
    ("/console/mpi/identities/{a1}/merge", {"absorb": "0" * 32}, 404, "There is no identity with that id"),
    ("/console/mpi/identities/{a1}/merge", {"absorb": ""}, 400, "Enter the id"),
    ("/console/mpi/identities/{a1}/unmerge", {}, 409, "not merged into another"),
    ("/console/mpi/identities/{a1}/unlink", {"source": "Patient/b1", "reason": "x"}, 404, "does not belong"),
    ("/console/mpi/identities/{missing}/unlink", {"source": "Patient/a1", "reason": "x"}, 404, "no identity"),
])
def test_impossible_requests_get_a_message_and_change_nothing(engine, pair, admin, path, data, status, message):
    names = {"review": pair["review"], "a1": pair["a1"], "missing": "f" * 32}
    token = form_token(admin.get("/console/mpi"))
    answer = admin.post(path.format(**names), data={"csrf_token": token,
                                                    **{k: v.format(**names) for k, v in data.items()}})
    assert answer.status_code == status and message in answer.text
    assert 'role="alert"' in answer.text
    with unit_of_work(engine) as conn:
        assert len(service.open_reviews(conn)) == 1
        assert service.identity_of(conn, "Patient/b1") == pair["b1"]


def test_merging_into_a_merged_identity_is_refused(engine, pair, admin):
    third = stored_and_matched(engine, patient("c1", {"text": "王芳"}, "1990-11-30", phone="13912345678",
                                               source="Organization/org-a")).identity_id
    with unit_of_work(engine) as conn:
        service.merge(conn, SYSTEM, keep=pair["a1"], absorb=pair["b1"])
    token = form_token(admin.get("/console/mpi"))
    answer = admin.post(f"/console/mpi/identities/{third}/merge", data={"csrf_token": token, "absorb": pair["b1"]})
    assert answer.status_code == 409 and "Only active identities can be merged" in answer.text


def test_an_unknown_identity_is_a_404_page_not_a_crash(engine, pair, admin):
    for wrong in ("0" * 32, "no such thing", "x" * 80):
        answer = admin.get(f"/console/mpi/identities/{wrong}")
        assert answer.status_code == 404 and "There is no identity with that id" in answer.text


def test_a_form_without_the_sessions_csrf_token_is_refused(engine, pair, admin):
    assert admin.post(f"/console/mpi/reviews/{pair['review']}", data={"decision": "link"}).status_code == 403
    assert admin.post(f"/console/mpi/identities/{pair['a1']}/merge",
                      data={"csrf_token": "forged", "absorb": pair["b1"]}).status_code == 403
    with unit_of_work(engine) as conn:
        assert len(service.open_reviews(conn)) == 1 and service.identity_of(conn, "Patient/b1") == pair["b1"]


@pytest.mark.parametrize("role", ["hospital_admin", "doctor"])
def test_hospital_staff_cannot_open_the_regional_index(engine, pair, role):
    make_user(engine, role)
    web = browser()
    sign_in(web, role.replace("_", ".") + ".test")
    assert web.get("/console/mpi").status_code == 403
    assert web.get(f"/console/mpi/identities/{pair['a1']}").status_code == 403
    assert web.post(f"/console/mpi/reviews/{pair['review']}", data={"decision": "link"}).status_code == 403
    with unit_of_work(engine) as conn:
        assert len(service.open_reviews(conn)) == 1


def test_the_console_lists_the_review_tile_for_the_regional_administrator_only(engine, admin):
    assert 'href="/console/mpi"' in admin.get("/console").text
    make_user(engine, "hospital_admin")
    other = browser()
    sign_in(other, "hospital.admin.test")
    assert 'href="/console/mpi"' not in other.get("/console").text


def test_the_review_queue_in_chinese(engine, pair, admin):
    page = admin.get("/console/mpi?lang=zh_Hans")
    assert page.status_code == 200
    for words in ("患者主索引审核", "同一人：关联", "不同的人", "出生日期", "匹配权重"):
        assert words in page.text
    done = admin.post(f"/console/mpi/reviews/{pair['review']}?lang=zh_Hans",
                      data={"csrf_token": form_token(page), "decision": "reject"})
    assert "已分开" in done.text
    identity = admin.get(f"/console/mpi/identities/{pair['b1']}?lang=zh_Hans")
    assert "关联的记录" in identity.text and "历史" in identity.text and "审核决定" in identity.text


def test_the_index_own_reasons_are_stored_as_codes_and_shown_in_the_readers_language(engine, pair, admin):
    with unit_of_work(engine) as conn:
        stored = [e["reason"] for e in service.history(conn, source="Patient/b1")]
        # A row written before reasons were coded, in English words: still read, and translated.
        conn.execute(mpi_event.insert().values(
            recorded="2026-01-01T00:00:00.000Z", kind="link", actor="system", source="Patient/b1",
            identity_id=pair["b1"], before="{}", after="{}", reason="same identity number as Patient/a1"))
    assert stored == ["mpi-reason:none-close"]
    chinese = admin.get(f"/console/mpi/identities/{pair['b1']}?lang=zh_Hans").text
    assert "没有足够接近的已知身份：新建身份" in chinese and "none-close" not in chinese
    assert "居民身份证号相同于 <code>Patient/a1</code>" in chinese and "same identity number" not in chinese
    english = admin.get(f"/console/mpi/identities/{pair['b1']}?lang=en").text
    assert "No known identity close enough: a new identity" in english


def test_a_typed_reason_cannot_pass_for_one_of_the_index_own(engine, pair, admin):
    with unit_of_work(engine) as conn, pytest.raises(service.IdentityError, match="cannot start with"):
        service.merge(conn, SYSTEM, keep=pair["a1"], absorb=pair["b1"], reason="mpi-reason:best-match Patient/x")
