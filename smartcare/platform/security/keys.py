"""Secret keys of the platform: from an environment variable (hex), else a file made once in the data directory."""

import os
import secrets
from functools import cache
from pathlib import Path

from smartcare.platform.settings import get_settings


@cache
def _key_from_file(path: str) -> bytes:
    file = Path(path)
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting together never overwrite each other's new key.
        try:
            descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return bytes.fromhex(file.read_text().strip())
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(32))
    return bytes.fromhex(file.read_text().strip())


def platform_key(env_var: str, file_name: str) -> bytes:
    """A 256-bit key: env_var (hex) if set, else data_dir/keys/file_name, created with owner-only permissions."""
    configured = os.environ.get(env_var)
    if configured:
        return bytes.fromhex(configured)
    return _key_from_file(str(get_settings().data_dir / "keys" / file_name))
