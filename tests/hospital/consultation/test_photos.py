"""Photos in a consultation: decoded, not trusted by name; metadata stripped; limits; only the two parties see them."""

import io

import pytest
from PIL import Image

from smartcare.hospital.consultation import photos
from smartcare.hospital.consultation.config import ConsultationSettings
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from tests.hospital.consultation.conftest import doctor_token, patient_token

BASE = "/api/v1/consultations"


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}  # GPSInfo: Shanghai
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes(), comment=b"secret note")
    return out.getvalue()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 128, 0, 255)).save(out, "PNG")
    return out.getvalue()


def test_the_gps_position_and_camera_in_exif_do_not_survive_cleaning():
    original = _jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the fixture really carries GPS
    clean = photos.clean_photo(original)
    kept = Image.open(io.BytesIO(clean.data))
    assert clean.content_type == "image/jpeg" and kept.format == "JPEG" and kept.size == (64, 48)
    assert not kept.getexif() and not kept.getexif().get_ifd(0x8825)
    assert b"PhoneMaker" not in clean.data and b"secret note" not in clean.data and b"Exif" not in clean.data


def test_the_format_comes_from_the_content_not_the_name():
    assert photos.clean_photo(_png()).content_type == "image/png"


@pytest.mark.parametrize(("data", "code"), [
    (b"hello, I am a text file pretending to be a PNG\n", "not-an-image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "not-an-image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not-an-image"),  # a PNG signature and nothing behind it
    (b"", "empty"),
])
def test_hostile_or_broken_files_are_refused_with_a_reason(data, code):
    with pytest.raises(photos.PhotoRefused) as refused:
        photos.clean_photo(data)
    assert refused.value.code == code and str(refused.value)


def test_other_image_formats_too_many_pixels_and_too_many_bytes_are_refused():
    gif = io.BytesIO()
    Image.new("P", (4, 4)).save(gif, "GIF")
    with pytest.raises(photos.PhotoRefused) as refused:
        photos.clean_photo(gif.getvalue())
    assert refused.value.code == "bad-format"
    big = io.BytesIO()
    Image.new("L", (3000, 3000)).save(big, "PNG")  # compresses to a few kB: only the pixel count gives it away
    with pytest.raises(photos.PhotoRefused) as refused:
        photos.clean_photo(big.getvalue(), limits=ConsultationSettings(photo_max_pixels=4_000_000))
    assert refused.value.code == "too-many-pixels"
    with pytest.raises(photos.PhotoRefused) as refused:
        photos.clean_photo(_png(), limits=ConsultationSettings(photo_max_bytes=50))
    assert refused.value.code == "too-large" and refused.value.status == 413


@pytest.fixture
def consultation(hospital) -> str:
    opened = hospital.post(BASE, headers=patient_token("p1"), json={
        "patient": "p1", "kind": "advice", "question": "A rash on my arm", "practitioner": "doc-a"})
    assert opened.status_code == 201, opened.text
    return opened.json()["id"]


def _send(client, cid, data, name, who="p1", client_id="ph-1"):
    return client.post(f"{BASE}/{cid}/photos", headers=patient_token(who) if who.startswith("p") else doctor_token(who),
                       files={"file": (name, data, "image/png")}, data={"client_id": client_id})


def test_a_sent_photo_comes_back_to_both_parties_without_its_exif(hospital, consultation):
    sent = _send(hospital, consultation, _jpeg_with_gps(), "holiday.png")
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert message["photo"] and message["seq"] == 2
    again = _send(hospital, consultation, _jpeg_with_gps(), "holiday.png")
    assert again.status_code == 200 and again.json()["seq"] == 2 and again.json()["duplicate"]
    for who in (patient_token("p1"), doctor_token("doc-a")):
        got = hospital.get(f"{BASE}/{consultation}/photos/{message['photo']}", headers=who)
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert not Image.open(io.BytesIO(got.content)).getexif().get_ifd(0x8825)
    media = hospital.get(f"/fhir/Media/{message['photo']}").json()
    assert media["encounter"]["reference"] == f"Encounter/{consultation}" and media["subject"]["reference"] == "Patient/p1"
    communication = hospital.get(f"/fhir/Communication/{message['id']}").json()
    assert {"contentReference": {"reference": f"Media/{message['photo']}"}} in communication["payload"]


def test_a_png_named_jpg_is_kept_as_png_and_a_text_file_named_png_is_refused(hospital, consultation):
    sent = _send(hospital, consultation, _png(), "scan.jpg")
    assert sent.status_code == 201, sent.text
    got = hospital.get(f"{BASE}/{consultation}/photos/{sent.json()['photo']}", headers=patient_token("p1"))
    assert got.headers["content-type"] == "image/png"
    refused = _send(hospital, consultation, b"just some words\n", "photo.png", client_id="ph-2")
    assert refused.status_code == 400 and refused.json()["error"] == "not-an-image"
    assert "JPEG, PNG or WebP" in refused.json()["message"]


def test_a_photo_over_the_size_limit_is_refused(hospital, consultation, monkeypatch):
    monkeypatch.setattr(photos, "get_settings", lambda: ConsultationSettings(photo_max_bytes=1000))
    noisy = io.BytesIO()
    Image.effect_noise((200, 200), 64).save(noisy, "PNG")
    refused = _send(hospital, consultation, noisy.getvalue(), "big.png")
    assert refused.status_code == 413 and refused.json()["error"] == "too-large"


def test_only_the_two_parties_see_a_photo(hospital, consultation):
    photo = _send(hospital, consultation, _png(), "a.png").json()["photo"]
    url = f"{BASE}/{consultation}/photos/{photo}"
    assert hospital.get(url, headers=patient_token("p2")).status_code == 404  # another patient
    assert hospital.get(url, headers=doctor_token("doc-c")).status_code == 404  # a doctor not in this consultation
    assert hospital.get(url, headers=doctor_token("doc-b")).status_code == 404  # same department, not the chosen one
    assert _send(hospital, consultation, _png(), "b.png", who="p2", client_id="x").status_code == 404
    other = hospital.post(BASE, headers=patient_token("p2"), json={
        "patient": "p2", "kind": "advice", "question": "Cough", "practitioner": "doc-a"}).json()["id"]
    # A photo is only served through the consultation it belongs to.
    assert hospital.get(f"{BASE}/{other}/photos/{photo}", headers=patient_token("p2")).status_code == 404
    assert hospital.get(url, headers=doctor_token("doc-a")).status_code == 200
    with unit_of_work() as conn:
        trail = audit.events_for_patient(conn, "Patient/p1", limit=200)
    about = [e["event"]["action"] for e in trail
             if any(x.get("what", {}).get("reference") == f"Media/{photo}" for x in e["event"].get("entity", []))]
    assert "C" in about and "R" in about  # stored and opened, both on the trail
