"""The service's secret: signs session cookies and CSRF tokens, keys the audit's query hashes.

ENCLAVE_SECRET_KEY when set (a deployment with several API processes must give them all the
same one); otherwise a random key made on first use and kept in data_dir/secret.key, readable
by its owner only, so sign-ins survive a restart of the embedded default.
"""

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from enclave.settings import ConfigurationError, Settings

FILE_NAME = "secret.key"


def load_secret_key(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if len(value) < 16:
            raise ConfigurationError(
                "ENCLAVE_SECRET_KEY is too short: use at least 16 random characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
            )
        return value.encode()
    return _key_file(settings.data_dir / FILE_NAME)


def _key_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: when two processes start at once, one writes and both read the same key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key.encode()
        raise RuntimeError(f"{path} is empty: delete it and restart to make a new key") from None
    with os.fdopen(fd, "w") as file:
        file.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def keyed_hash(key: bytes, purpose: str, text: str) -> str:
    """HMAC-SHA256 of `text`, separated by purpose, so one use's hashes say nothing of another's."""
    return hmac.new(key, f"{purpose}\0{text}".encode(), hashlib.sha256).hexdigest()
