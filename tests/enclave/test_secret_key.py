"""The service's secret: made once and kept private, or taken from ENCLAVE_SECRET_KEY."""

import stat
from pathlib import Path

import pytest

from enclave.secret_key import keyed_hash, load_secret_key
from enclave.settings import ConfigurationError
from tests.conftest import make_settings


def test_a_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "var")
    first = load_secret_key(settings)
    assert len(first) >= 32
    assert load_secret_key(settings) == first  # a restart keeps sign-ins and hashes valid
    mode = stat.S_IMODE((tmp_path / "var" / "secret.key").stat().st_mode)
    assert mode == 0o600
    assert load_secret_key(make_settings(tmp_path / "other")) != first


def test_the_configured_key_wins_and_must_be_long_enough(tmp_path: Path) -> None:
    configured = make_settings(tmp_path, secret_key="a-long-enough-shared-secret")
    assert load_secret_key(configured) == b"a-long-enough-shared-secret"
    assert not (tmp_path / "secret.key").exists()
    with pytest.raises(ConfigurationError, match="too short"):
        load_secret_key(make_settings(tmp_path, secret_key="short"))


def test_keyed_hashes_depend_on_key_and_purpose() -> None:
    assert keyed_hash(b"k1", "audit", "q") == keyed_hash(b"k1", "audit", "q")
    assert keyed_hash(b"k1", "audit", "q") != keyed_hash(b"k2", "audit", "q")
    assert keyed_hash(b"k1", "audit", "q") != keyed_hash(b"k1", "csrf", "q")
