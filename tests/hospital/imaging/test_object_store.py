"""The DICOM archive on an S3-compatible object store: moto's server as the real peer, checking our SigV4 signatures."""

import re
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa

from smartcare.hospital.imaging import service, storage
from smartcare.hospital.imaging.models import imaging_instance
from smartcare.hospital.imaging.object_store import EMPTY_SHA256, ObjectStoreError, S3Store, sign
from smartcare.hospital.imaging.service import read_instance, store_encoded
from smartcare.hospital.imaging.storage import InvalidUid, storage_key
from smartcare.platform.db import unit_of_work
from smartcare.platform.settings import get_settings
from tests.hospital.imaging import s3_peer
from tests.hospital.imaging.dicom_samples import ct_slice, encoded, uid, write
from tests.hospital.imaging.imaging_record import write_patients_and_order
from tests.hospital.imaging.pacs_peer import dcmtk, start_pacs
from tests.support import IN_CI

# --- Signature Version 4 against AWS's published examples -----------------------------------------------------

def test_signature_matches_the_aws_sigv4_test_suite_get_vanilla_example():
    # AWS SigV4 test suite, "get-vanilla": GET / on example.amazonaws.com, service "service", 2015-08-30T12:36Z.
    headers = sign("GET", "/", {}, {"Host": "example.amazonaws.com"}, EMPTY_SHA256,
                   access_key="AKIDEXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                   region="us-east-1", service="service", now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC))
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")


def test_signature_matches_the_s3_documentation_get_object_example():
    # Amazon S3 API reference, "Signature calculations for the Authorization header", example GET Object.
    headers = sign("GET", "/test.txt", {}, {"Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9",
                                            "x-amz-content-sha256": EMPTY_SHA256}, EMPTY_SHA256,
                   access_key="AKIAIOSFODNN7EXAMPLE", secret_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                   region="us-east-1", now=datetime(2013, 5, 24, tzinfo=UTC))
    assert headers["authorization"].endswith(
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


# --- against s3rver ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    script = s3_peer.server()
    if script is None:
        why = "moto's server is not installed: run scripts/setup --test (requirements-test.lock pins it)"
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    yield from s3_peer.run(script, tmp_path_factory.mktemp("moto") / "moto.log")


def _store(s3, **options) -> S3Store:
    return s3.store(f"t{uid()}", **options)  # a prefix of its own per test


def _names(store: S3Store) -> list[str]:
    """The object names under the store's prefix, from a signed ListObjectsV2 request."""
    query = {"list-type": "2", "prefix": store.prefix}
    path = f"/{store.bucket}"
    headers = sign("GET", path, query, {"host": store.host, "x-amz-content-sha256": EMPTY_SHA256}, EMPTY_SHA256,
                   access_key=store._access_key, secret_key=store._secret_key, region="us-east-1",
                   now=datetime.now(UTC))
    answer = httpx.get(store.endpoint + path, params=query, headers=headers)
    assert answer.status_code == 200, answer.text
    return sorted(name[len(store.prefix):] for name in re.findall(r"<Key>([^<]+)</Key>", answer.text))


def _key() -> str:
    return storage_key(uid(), uid(), uid())


def test_instance_bytes_round_trip_and_are_replaced_and_removed(s3):
    store = _store(s3)
    key = _key()
    store.put(key, b"DICM first")
    assert store.get(key) == b"DICM first"
    store.put(key, b"DICM second")
    assert store.get(key) == b"DICM second"
    store.delete(key)
    with pytest.raises(FileNotFoundError):
        store.get(key)
    store.delete(key)  # nothing there: nothing happens
    assert _names(store) == []


def test_a_wrong_secret_is_refused_by_the_store_with_its_reason(s3):
    with pytest.raises(ObjectStoreError, match="SignatureDoesNotMatch"):
        _store(s3, secret_key="not-the-secret").put(_key(), b"DICM")


def test_placing_a_staged_instance_leaves_only_its_key(s3):
    store = _store(s3)
    key = _key()
    staged = store.stage(b"DICM staged", key)
    assert staged.result().startswith(".incoming/")  # uploaded, but not yet under its key
    with pytest.raises(FileNotFoundError):
        store.get(key)
    store.place(staged, key)
    assert store.get(key) == b"DICM staged"
    assert _names(store) == [key]


def test_a_discarded_instance_never_replaces_the_one_stored_before(s3):
    store = _store(s3)
    key = _key()
    store.put(key, b"DICM original")
    store.discard(store.stage(b"DICM refused", key))
    assert store.get(key) == b"DICM original"
    assert _names(store) == [key]


@pytest.mark.parametrize("key", ["../../etc/passwd", "1.2/../../3.dcm", "1.2/3.4/5.6", "1.2/3.4/x.dcm",
                                 "1.2/3.4/05.dcm", "1.2/3.4/5.6.dcm/../x.dcm"])
def test_hostile_keys_are_refused_before_any_request(key):
    store = S3Store("http://127.0.0.1:9", s3_peer.BUCKET, access_key="a", secret_key="b")  # nothing listens
    for attempt in (lambda: store.put(key, b"x"), lambda: store.get(key), lambda: store.delete(key),
                    lambda: store.stage(b"x", key)):
        with pytest.raises(InvalidUid):
            attempt()


def test_an_unreachable_store_is_an_out_of_resources_status_and_no_index_row(engine):
    store = S3Store("http://127.0.0.1:9", s3_peer.BUCKET, access_key="a", secret_key="b")
    outcome = store_encoded(encoded(ct_slice()), calling_ae="CT1", store=store)
    assert outcome.status == service.OUT_OF_RESOURCES
    assert "object store" in outcome.reason
    with unit_of_work() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(imaging_instance)).scalar() == 0


def test_stored_instance_reads_back_and_a_resend_with_other_bytes_keeps_the_first(engine, s3):
    store = _store(s3)
    ds = ct_slice()
    first = encoded(ds)
    assert store_encoded(first, calling_ae="CT1", store=store).status == service.SUCCESS
    ds.SeriesDescription = "changed"
    again = store_encoded(encoded(ds), calling_ae="CT1", store=store)
    assert again.duplicate
    assert read_instance(ds.SOPInstanceUID, store=store) == first
    assert _names(store) == [storage_key(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)]


def test_storescu_study_lands_in_the_bucket(engine, s3, tmp_path):
    write_patients_and_order()
    store = _store(s3)
    pacs = start_pacs(engine, None, store=store, allow_any_caller=True)
    try:
        study, series = uid(), uid()
        files = [str(write(ct_slice(study_uid=study, series_uid=series, number=n, accession="CT0001"),
                           tmp_path / f"{n}.dcm")) for n in (1, 2, 3)]
        done = dcmtk("storescu", pacs, files=files)
        assert done.returncode == 0, done.stderr
    finally:
        pacs.stop()
    names = _names(store)
    assert len(names) == 3 and all(name.startswith(f"{study}/{series}/") for name in names)
    with unit_of_work() as conn:
        keys = sorted(conn.execute(sa.select(imaging_instance.c.storage_key)).scalars())
    assert keys == names
    for name in names:
        assert store.get(name)[128:132] == b"DICM"


def test_the_configured_bucket_is_the_default_store(monkeypatch, s3):
    monkeypatch.setenv("SMARTCARE_DICOM_STORE", f"{s3.endpoint}/{s3_peer.BUCKET}/configured")
    monkeypatch.setenv("SMARTCARE_S3_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("SMARTCARE_S3_SECRET_ACCESS_KEY", s3.secret_key)
    get_settings.cache_clear()
    try:
        store = storage.default_store()
        assert isinstance(store, S3Store) and store.prefix == "configured/"
        key = _key()
        store.put(key, b"DICM configured")
        assert store.get(key) == b"DICM configured"
    finally:
        get_settings.cache_clear()
