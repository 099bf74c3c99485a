"""The DICOMweb service as an outside client sees it: dicomweb-client against a live server, with a bearer token."""

from collections.abc import Iterator
from datetime import date
from io import BytesIO

import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from PIL import Image
from requests import HTTPError

from smartcare.hospital.imaging.synthetic import SyntheticPatient, SyntheticStudy, build_study
from smartcare.platform.security.scopes import parse_scopes
from smartcare.platform.security.tokens import issue_access_token
from tests.hospital.imaging.dicomweb_record import WANG, Archive, data_dir, fill_archive
from tests.support import live_server


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """A live SmartCare server on 127.0.0.1 (it serves from whichever store the running test set up)."""
    # dicomweb-client sends Host without the port; the server puts it back (tokens and RetrieveURLs match).
    with live_server("dicomweb-uvicorn") as url:
        yield url


@pytest.fixture
def archive(engine, tmp_path) -> Iterator[Archive]:
    """The filled archive, its files under tmp_path."""
    with data_dir(tmp_path):
        yield fill_archive()


def _client(base_url: str, scope: str = "system/*.cruds", **claims) -> DICOMwebClient:
    args = {"subject": "pacs-test", "kind": "client", "name": "viewer", "roles": {"system"}} | claims
    token, _ = issue_access_token(scopes=parse_scopes(scope), audience=f"{base_url}/fhir", **args)
    return DICOMwebClient(url=f"{base_url}/dicomweb", headers={"Authorization": f"Bearer {token}"})


def test_client_stores_searches_and_retrieves_a_synthetic_study(base_url, archive: Archive):
    client = _client(base_url)
    study = SyntheticStudy(SyntheticPatient("P-1", "Wang^Fang", birth_date=date(1950, 3, 4), sex="F"),
                           modality="CT", slices=2, size=32, seed=11)
    instances = build_study(study)
    answer = client.store_instances(instances)
    assert len(answer.ReferencedSOPSequence) == 2 and "FailedSOPSequence" not in answer
    study_uid = instances[0].StudyInstanceUID
    [found] = client.search_for_studies(search_filters={"StudyInstanceUID": study_uid})
    assert found["00201208"]["Value"] == [2]
    series = client.search_for_series(study_uid)
    assert [s["0020000E"]["Value"][0] for s in series] == [instances[0].SeriesInstanceUID]
    back = client.retrieve_instance(study_uid, instances[0].SeriesInstanceUID, instances[0].SOPInstanceUID)
    assert back.SOPInstanceUID == instances[0].SOPInstanceUID
    assert np.array_equal(back.pixel_array, instances[0].pixel_array)
    metadata = client.retrieve_study_metadata(study_uid)
    assert {m["00080018"]["Value"][0] for m in metadata} == {ds.SOPInstanceUID for ds in instances}


def test_client_gets_rendered_png_and_a_patient_client_sees_only_their_own(base_url, archive: Archive):
    client = _client(base_url)
    png = client.retrieve_instance_rendered(archive.wang_study, archive.wang_series, archive.wang_instances[0],
                                            media_types=("image/png",), params={"viewport": "64,64"})
    assert Image.open(BytesIO(png)).size == (64, 64)
    wang = _client(base_url, **WANG, subject="u-wang")
    assert [s["0020000D"]["Value"][0] for s in wang.search_for_studies()] == [archive.wang_study]
    with pytest.raises(HTTPError) as refused:
        wang.retrieve_study_metadata(archive.zhao_study)
    assert refused.value.response.status_code == 404
