"""The known remote AEs: what the console may save (AE title, host, port, modality served) and hostile input."""

import pytest

from smartcare.hospital.imaging import remote_aes
from smartcare.hospital.imaging.remote_aes import RemoteAeRefused
from smartcare.platform.db import unit_of_work


def _values(**changes) -> dict:
    return {"ae_title": "CT_ROOM1", "host": "10.0.0.5", "port": "104", "modality": "ct", "description": "CT 1",
            **changes}


@pytest.mark.parametrize(("field", "changes"), [
    ("ae_title", {"ae_title": ""}), ("ae_title", {"ae_title": "A" * 17}), ("ae_title", {"ae_title": "BAD\\AE"}),
    ("ae_title", {"ae_title": "CT\n1"}), ("host", {"host": "<script>"}), ("host", {"host": ""}),
    ("port", {"port": "0"}), ("port", {"port": "65536"}), ("port", {"port": "104; rm"}),
    ("modality", {"modality": "C T"}), ("description", {"description": "x" * 300}),
])
def test_bad_remote_ae_input_names_the_field(field, changes):
    with pytest.raises(RemoteAeRefused) as refused:
        remote_aes.checked(**_values(**changes))
    assert refused.value.field == field


def test_a_remote_ae_keeps_the_modality_it_serves_and_titles_stay_unique(engine):
    with unit_of_work() as conn:
        ae_id = remote_aes.save(conn, remote_aes.checked(**_values()), allowed=True)
        remote_aes.save(conn, remote_aes.checked(**_values(ae_title="MR_1", modality="MR", description="")),
                        allowed=False)
        saved = remote_aes.by_id(conn, ae_id)
        assert (saved.ae_title, saved.port, saved.modality, saved.description) == ("CT_ROOM1", 104, "CT", "CT 1")
        assert remote_aes.station_titles(conn) == {"CT": "CT_ROOM1"}  # MR_1 is not allowed
        with pytest.raises(RemoteAeRefused):
            remote_aes.save(conn, remote_aes.checked(**_values(modality="")), allowed=True)
        assert remote_aes.remove(conn, ae_id) and not remote_aes.remove(conn, ae_id)
