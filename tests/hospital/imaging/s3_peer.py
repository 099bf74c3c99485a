"""moto's server (PyPI, pinned in requirements-test.lock) as the S3-compatible object store under test.

It runs with authentication on (INITIAL_NO_AUTH_ACTION_COUNT): the only unauthenticated calls are the three IAM
calls that make the archive's user, its policy and its access key. Every S3 request after that is checked against
that key's Signature Version 4 (moto computes the expected signature with botocore), so a request we signed wrongly
is refused as AWS would refuse it."""

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx

from smartcare.hospital.imaging.object_store import S3Store, sign

BUCKET = "dicom-archive"
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'


@dataclass(frozen=True)
class S3Peer:
    """A running store: its endpoint and the archive user's key."""

    endpoint: str
    access_key: str
    secret_key: str

    def store(self, prefix: str = "", *, secret_key: str | None = None) -> S3Store:
        """An S3Store on BUCKET under prefix (with another secret when given)."""
        return S3Store(self.endpoint, BUCKET, prefix, access_key=self.access_key,
                       secret_key=self.secret_key if secret_key is None else secret_key)


def server() -> Path | None:
    """moto's server script beside this Python, or on PATH."""
    beside = Path(sys.executable).parent / "moto_server"
    found = beside if beside.exists() else shutil.which("moto_server")
    return Path(found) if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _iam(endpoint: str, **params: str) -> str:
    body = urlencode({**params, "Version": "2010-05-08"}).encode()
    headers = sign("POST", "/", {}, {"host": endpoint.split("//", 1)[1],
                                     "content-type": "application/x-www-form-urlencoded"},
                   hashlib.sha256(body).hexdigest(), access_key="AKIAIOSFODNN7EXAMPLE", secret_key="bootstrap",
                   region="us-east-1", service="iam", now=datetime.now(UTC))
    answer = httpx.post(endpoint + "/", content=body, headers=headers)
    answer.raise_for_status()
    return answer.text


def run(script: Path, log: Path) -> Iterator[S3Peer]:
    """Start moto's server on a free port (its request log to log), make the archive user, key and bucket; yield
    it; stop it after."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([str(script), "-H", "127.0.0.1", "-p", str(port)],
                               env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"},
                               stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start: {log.read_text(errors='replace')[-2000:]}") \
                        from None
                time.sleep(0.1)
        _iam(endpoint, Action="CreateUser", UserName="pacs")
        _iam(endpoint, Action="PutUserPolicy", UserName="pacs", PolicyName="archive", PolicyDocument=POLICY)
        created = _iam(endpoint, Action="CreateAccessKey", UserName="pacs")
        peer = S3Peer(endpoint, re.search(r"<AccessKeyId>([^<]+)<", created).group(1),
                      re.search(r"<SecretAccessKey>([^<]+)<", created).group(1))
        made = peer.store()._request("PUT", "")  # CreateBucket: PUT on the bucket itself
        if made.status_code != 200:
            raise RuntimeError(f"the test bucket could not be made: {made.text[:500]}")
        yield peer
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
