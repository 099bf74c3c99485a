"""Sealed secrets: they open with the same key for the same row, and never otherwise."""

import pytest

from smartcare.platform.security import keys, sealing
from smartcare.platform.settings import get_settings


@pytest.fixture
def field_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SMARTCARE_FIELD_KEY", raising=False)
    monkeypatch.setattr(get_settings(), "data_dir", tmp_path)
    keys._key_from_file.cache_clear()
    yield tmp_path / "keys" / "field-encryption.key"
    keys._key_from_file.cache_clear()


def test_a_sealed_value_opens_for_its_row_and_hides_the_plain_text(field_key):
    sealed = sealing.seal("JBSWY3DPEHPK3PXP", bound_to="totp:u1")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert sealing.unseal(sealed, bound_to="totp:u1") == "JBSWY3DPEHPK3PXP"
    # Each sealing uses a fresh nonce, so equal secrets do not look equal in the database.
    assert sealing.seal("JBSWY3DPEHPK3PXP", bound_to="totp:u1") != sealed
    assert field_key.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("tamper", [
    lambda s: s[:-2] + ("AA" if not s.endswith("AA") else "BB"),
    lambda s: s.replace("v1:", "v2:"),
    lambda s: "v1:" + "A" * 10,
    lambda s: "v1:!!!not base64!!!",
    lambda s: "",
])
def test_altered_values_do_not_open(field_key, tamper):
    sealed = sealing.seal("secret", bound_to="totp:u1")
    with pytest.raises(sealing.SealBroken):
        sealing.unseal(tamper(sealed), bound_to="totp:u1")


def test_a_value_sealed_for_one_row_does_not_open_for_another(field_key):
    with pytest.raises(sealing.SealBroken):
        sealing.unseal(sealing.seal("secret", bound_to="totp:u1"), bound_to="totp:u2")


def test_another_key_does_not_open_it(field_key, monkeypatch):
    sealed = sealing.seal("secret", bound_to="totp:u1")
    monkeypatch.setenv("SMARTCARE_FIELD_KEY", "11" * 32)
    with pytest.raises(sealing.SealBroken):
        sealing.unseal(sealed, bound_to="totp:u1")
