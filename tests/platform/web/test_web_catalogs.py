"""The translation catalogs: every message the templates and code use has a Chinese translation, and no more."""

from functools import lru_cache
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import smartcare
from smartcare.platform import i18n

PACKAGE_DIR = Path(smartcare.__file__).resolve().parent
METHOD_MAP = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


@lru_cache(maxsize=1)
def used_messages() -> frozenset[str]:
    """Message ids the code and templates use, extracted the way pybabel extract does."""
    found: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        PACKAGE_DIR, METHOD_MAP, keywords=KEYWORDS, comment_tags=()
    ):
        found.add(message if isinstance(message, str) else message[0])
    return frozenset(found)


@pytest.fixture(scope="module")
def zh_catalog():
    po_path = i18n.LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as po_file:
        return read_po(po_file, locale="zh_Hans")


def test_extraction_finds_the_shell_messages():
    messages = used_messages()
    assert {"Skip to main content", "FHIR R4 CapabilityStatement", "Page not found"} <= messages


def test_every_used_message_has_a_chinese_translation(zh_catalog):
    untranslated = sorted(
        msgid for msgid in used_messages()
        if (entry := zh_catalog.get(msgid)) is None or entry.fuzzy or not all(entry.string if isinstance(
            entry.string, tuple) else (entry.string,))
    )
    assert untranslated == [], "translate these in smartcare/locale/zh_Hans/LC_MESSAGES/messages.po"


def test_catalog_has_no_stale_messages(zh_catalog):
    stale = sorted(str(entry.id) for entry in zh_catalog if entry.id and
                   (entry.id if isinstance(entry.id, str) else entry.id[0]) not in used_messages())
    assert stale == [], "run the pybabel commands in smartcare/platform/i18n.py to drop these"
    assert not zh_catalog.obsolete


def test_catalog_passes_babels_checks(zh_catalog):
    problems = [(entry.id, [str(error) for error in errors]) for entry, errors in zh_catalog.check() if errors]
    assert problems == []
    assert zh_catalog.plural_forms == "nplurals=1; plural=0;"


def test_catalog_loads_at_runtime():
    assert i18n.translations("zh-Hans").gettext("Skip to main content") == "跳到主要内容"


def test_each_message_is_translated_once():
    # Helpers append to the catalogue; a message given twice keeps only one of its translations, silently.
    po_path = i18n.LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "messages.po"
    ids = [line for line in po_path.read_text(encoding="utf-8").splitlines() if line.startswith('msgid "')
           and line != 'msgid ""']
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
