"""The test tree imports its files by base name (there are no __init__.py files), so two test files with the same
name make pytest refuse the second at collection: each name must be unique."""

from collections import Counter
from pathlib import Path


def test_no_two_test_files_share_a_name():
    names = Counter(path.name for path in Path(__file__).parent.rglob("test_*.py"))
    assert sorted(name for name, count in names.items() if count > 1) == []
