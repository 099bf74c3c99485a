"""DICOM instances in an S3-compatible object store (production): the InstanceStore interface over S3's REST API.

Requests are signed with AWS Signature Version 4 (header form; the algorithm as AWS documents it in "Signature
Version 4 signing process", checked in tests against AWS's published examples) and sent path-style
(<endpoint>/<bucket>/<key>), which AWS, MinIO, Ceph RGW and Garage all accept. Only httpx is used; no SDK.

Durability: S3 answers a PUT only once the object is stored redundantly, so an acknowledged PUT survives a crash
of ours. Every PUT carries Content-MD5 and the SHA-256 of its body (signed), so a body damaged on the way is
refused by the store rather than kept.

Staging mirrors FileStore's guarantee that a refused instance never replaces one stored before: stage() uploads
the bytes in a background thread under <prefix>.incoming/<random>, place() copies that object onto the
instance's key (a server-side copy, no second upload) and removes it, discard() removes it. A crash between the
two leaves only an .incoming object that no index row names (an expiry rule on .incoming/ sweeps them).
S3 reports some copy failures inside a "200 OK" body; those are read and raised too.

Failures are ObjectStoreError (an OSError), which the archive already turns into a DICOM "out of resources"
status and DICOMweb into 503; a missing object is FileNotFoundError, as for files. Transient failures (a dropped
connection, 500, 503) are retried a few times with a short back-off: every request here is idempotent.
"""

import base64
import errno
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import httpx

from smartcare.hospital.imaging.storage import checked_key

log = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
RETRIED_STATUSES = frozenset({500, 502, 503, 504})
ATTEMPTS = 3
INCOMING = ".incoming/"

# Uploads wait on the network, not the disk: more of them at once than FileStore's writers.
_uploads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="s3-upload")


class ObjectStoreError(OSError):
    """The object store refused a request or could not be reached; strerror says what it answered."""

    def __init__(self, message: str) -> None:
        super().__init__(errno.EIO, message)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def uri_encode(text: str, *, keep_slash: bool) -> str:
    """Percent-encoding as SigV4 wants it: everything but A-Z a-z 0-9 - . _ ~ (and '/' in a path) as %XX."""
    return quote(text, safe="-._~/" if keep_slash else "-._~")


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    """The day's key derived from the secret: HMAC chain over date, region, service and "aws4_request"."""
    key = _hmac(("AWS4" + secret_key).encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def sign(method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], payload_sha256: str, *,
         access_key: str, secret_key: str, region: str, service: str = "s3", now: datetime) -> dict[str, str]:
    """The headers to send: the given ones (names lower-cased) plus X-Amz-Date and Authorization.

    path is the request path before encoding; every header given is signed (Host must be among them)."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    signed = {name.lower(): " ".join(str(value).split()) for name, value in headers.items()}
    signed["x-amz-date"] = stamp
    names = sorted(signed)
    canonical_query = "&".join(f"{uri_encode(k, keep_slash=False)}={uri_encode(v, keep_slash=False)}"
                               for k, v in sorted(query.items()))
    canonical = "\n".join((method, uri_encode(path, keep_slash=True), canonical_query,
                           "".join(f"{name}:{signed[name]}\n" for name in names), ";".join(names), payload_sha256))
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join((ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()))
    signature = hmac.new(signing_key(secret_key, stamp[:8], region, service), to_sign.encode(),
                         hashlib.sha256).hexdigest()
    signed["authorization"] = (f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, "
                               f"Signature={signature}")
    return signed


def _error_text(response: httpx.Response) -> str:
    """What an S3 error body says (its Code and Message), else the HTTP status."""
    body = response.content[:4096]
    found = [re.search(rb"<%s>([^<]{0,300})</%s>" % (tag, tag), body) for tag in (b"Code", b"Message")]
    said = " ".join(m.group(1).decode("utf-8", "replace") for m in found if m)
    return f"HTTP {response.status_code}" + (f" {said}" if said else "")


class S3Store:
    """Instances as objects <prefix><study>/<series>/<instance>.dcm in one bucket of an S3-compatible store."""

    def __init__(self, endpoint: str, bucket: str, prefix: str = "", *, access_key: str, secret_key: str,
                 region: str = "us-east-1", timeout: float = 30.0, client: httpx.Client | None = None) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the object store endpoint must be an http(s) URL, not {endpoint!r}")
        if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket):
            raise ValueError(f"{bucket!r} is not an S3 bucket name")
        self.endpoint = f"{parts.scheme}://{parts.netloc}"
        self.host = parts.netloc
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.region = region
        self._access_key = access_key
        self._secret_key = secret_key
        self._client = client or httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=16))

    @classmethod
    def from_url(cls, url: str, **credentials: str) -> "S3Store":
        """A store from <endpoint>/<bucket>[/<prefix>], e.g. https://s3.eu-west-1.amazonaws.com/pacs/archive."""
        parts = urlsplit(url)
        bucket, _, prefix = parts.path.lstrip("/").partition("/")
        return cls(f"{parts.scheme}://{parts.netloc}", bucket, prefix, **credentials)

    def __repr__(self) -> str:
        return f"S3Store({self.endpoint}/{self.bucket}/{self.prefix})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    # -- requests ---------------------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return f"/{self.bucket}/{self.prefix}{name}"

    def _request(self, method: str, name: str, *, body: bytes = b"",
                 headers: Mapping[str, str] | None = None) -> httpx.Response:
        """One signed request for object name (under the prefix), retried when the failure is transient."""
        path = self._path(name)
        payload = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
        wanted = {"host": self.host, "x-amz-content-sha256": payload, **(headers or {})}
        problem = ""
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(0.2 * 2 ** (attempt - 1))
            sent = sign(method, path, {}, wanted, payload, access_key=self._access_key,
                        secret_key=self._secret_key, region=self.region, now=datetime.now(UTC))
            try:
                response = self._client.request(method, self.endpoint + uri_encode(path, keep_slash=True),
                                                content=body or None, headers=sent)
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code not in RETRIED_STATUSES:
                return response
            problem = _error_text(response)
        raise ObjectStoreError(f"the object store at {self.endpoint} did not answer {method} {path}: {problem}")

    def _put(self, name: str, data: bytes) -> None:
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        response = self._request("PUT", name, body=data, headers={"content-md5": md5,
                                                                  "content-type": "application/dicom"})
        if response.status_code != 200:
            raise ObjectStoreError(f"the object store refused PUT {self._path(name)}: {_error_text(response)}")

    def _copy(self, source: str, name: str) -> None:
        response = self._request("PUT", name, headers={
            "x-amz-copy-source": uri_encode(self._path(source), keep_slash=True)})
        if response.status_code != 200 or b"<Error>" in response.content[:4096]:
            raise ObjectStoreError(f"the object store could not copy {source} to {name}: {_error_text(response)}")

    def _delete(self, name: str) -> None:
        response = self._request("DELETE", name)
        if response.status_code not in (200, 204, 404):
            raise ObjectStoreError(f"the object store refused DELETE {self._path(name)}: {_error_text(response)}")

    # -- the InstanceStore interface -------------------------------------------------------------------------

    def put(self, key: str, data: bytes) -> None:
        """Store data under key (replacing what was there); returns once the store has acknowledged it."""
        self._put(checked_key(key), data)

    def stage(self, data: bytes, key: str) -> "Future[str]":
        """Start uploading data under a new .incoming name in the background; its name, for place or discard."""
        checked_key(key)
        name = f"{INCOMING}{secrets.token_hex(16)}"

        def upload() -> str:
            self._put(name, data)
            return name

        return _uploads.submit(upload)

    def place(self, staged: "Future[str]", key: str) -> None:
        """Wait for the upload, copy it onto key and remove the .incoming object."""
        name = staged.result()
        try:
            self._copy(name, checked_key(key))
        finally:
            self._forget(name)

    def discard(self, staged: "Future[str]") -> None:
        """Remove the staged object once its upload is over (nothing is left when the upload failed)."""
        try:
            name = staged.result()
        except OSError:
            return
        self._forget(name)

    def _forget(self, name: str) -> None:
        try:
            self._delete(name)
        except OSError:  # only an unreferenced .incoming object remains; the bucket's expiry rule removes it
            log.warning("could not remove staged object %s%s", self.prefix, name, exc_info=True)

    def get(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError when the key holds none."""
        name = checked_key(key)
        response = self._request("GET", name)
        if response.status_code == 404 and b"NoSuchBucket" not in response.content[:4096]:
            raise FileNotFoundError(errno.ENOENT, "no such object in the archive's bucket", self._path(name))
        if response.status_code != 200:
            raise ObjectStoreError(f"the object store refused GET {self._path(name)}: {_error_text(response)}")
        return response.content

    def delete(self, key: str) -> None:
        """Remove the object under key (nothing happens when there is none)."""
        self._delete(checked_key(key))
