"""The doctor's quick replies and reply templates, read from data/replies.yaml."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

DATA = Path(__file__).parent / "data" / "replies.yaml"
MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class Reply:
    """One quick reply or template: its key, title and text in English and Chinese."""

    key: str
    title_en: str
    title_zh: str
    en: str
    zh: str

    def title(self, zh: bool) -> str:
        """The title in the reader's language."""
        return self.title_zh if zh else self.title_en

    def text(self, zh: bool) -> str:
        """The text in the reader's language."""
        return self.zh if zh else self.en


@cache
def load() -> tuple[tuple[Reply, ...], tuple[Reply, ...]]:
    """(quick replies, templates), checked: unique keys, both languages, texts a message may hold."""
    data = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    if not data.get("source"):
        raise ValueError(f"{DATA}: no source")
    found = []
    for part in ("quick_replies", "templates"):
        rows = []
        for row in data[part]:
            reply = Reply(row["key"], row.get("title_en", row["en"]), row.get("title_zh", row["zh"]), row["en"],
                          row["zh"])
            if not all((reply.en, reply.zh)) or max(len(reply.en), len(reply.zh)) > MAX_TEXT:
                raise ValueError(f"{DATA}: {part} {reply.key} needs both languages within {MAX_TEXT} characters")
            rows.append(reply)
        if len({r.key for r in rows}) != len(rows):
            raise ValueError(f"{DATA}: {part} has a key twice")
        found.append(tuple(rows))
    return found[0], found[1]
