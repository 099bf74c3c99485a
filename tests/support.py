"""Helpers the tests share: where ../shared lies, and skipping (or failing under CI) without it."""

import os
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI") == "true"
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def need_shared(relative: str) -> Path:
    """A path in ../shared, or skip (fail under CI) when the folder is not beside the checkout."""
    path = SHARED / relative
    if not path.exists():
        message = f"{path} is missing: the shared FHIR/HL7 test material lies beside the checkout in ../shared"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path
