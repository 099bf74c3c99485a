"""What signals say in words: the names of diseases, syndromes, districts and methods, period labels, and the reason
a signal was raised, in English and Chinese. The reason is written onto the signal when it is raised, so it reads the
same later however the lists change."""

from datetime import date
from typing import Any

from smartcare.knowledge.surveillance import METHODS
from smartcare.knowledge.surveillance import syndromes as syndrome_rules
from smartcare.regional.public_health.case_series import REGION
from smartcare.regional.public_health.districts import region_districts
from smartcare.regional.public_health.release_figures import week_label
from smartcare.regional.public_health.review import disease_name

_BASIS_EN = {"onset": "with onset on {day}", "report": "reported on {day}", "visit": "seen on {day}"}
_BASIS_EN_WEEK = {"onset": "with onset in week {day}", "report": "reported in week {day}",
                  "visit": "seen in week {day}"}
_BASIS_ZH = {"onset": "{day}发病", "report": "{day}报告", "visit": "{day}就诊"}
_BASIS_ZH_WEEK = {"onset": "{day}周发病", "report": "{day}周报告", "visit": "{day}周就诊"}


def period_label(start: date, frequency: str) -> str:
    """A period as people read it: the day (2026-02-28), or the ISO week (2026-W09) for a weekly series."""
    return week_label(start) if frequency == "weekly" else start.isoformat()


def subject_name(kind: str, subject: str, lang: str) -> str:
    """A disease's (or subtype's, written disease/subtype) or a syndrome's name in lang; the code if unknown."""
    if kind == "syndrome":
        found = syndrome_rules.rules().syndrome(subject)
        return found.name(lang) if found else subject
    disease, _sep, subtype = subject.partition("/")
    return disease_name(disease, lang, subtype or None)


def place_name(place: str, lang: str, *, capital: bool = False) -> str:
    """A district's name in lang, or the whole region's: capital for one that starts a cell or a heading."""
    if place == REGION:
        return "全地区" if lang.startswith("zh") else ("Whole region" if capital else "whole region")
    found = next((d for d in region_districts() if d.code == place), None)
    return found.name(lang) if found else place


def method_title(method: str) -> str:
    """A detector's title (EARS C1, CUSUM, Noufaily ...)."""
    found = METHODS.get(method)
    return found.info.title if found else method


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def reason(key: Any, method: str, start: date, row: Any, lang: str) -> str:
    """Why an alarm raises a signal, in lang: what was counted where and when, against what the method expected."""
    weekly = key.frequency == "weekly"
    day = period_label(start, key.frequency)
    subject, place, title = subject_name(key.kind, key.subject, lang), place_name(key.place, lang), method_title(method)
    if lang.startswith("zh"):
        unit = "人次" if key.kind == "syndrome" else "例"
        when = (_BASIS_ZH_WEEK if weekly else _BASIS_ZH)[key.basis].format(day=day)
        bound = f"超过{title}的上限 {_shown(row.upper)}" if row.upper is not None else f"{title}报警（得分 {_shown(row.score)}）"
        return f"{subject}，{place}：{when} {row.count} {unit}，{bound}（期望 {_shown(row.expected)}）。"
    noun = ("visit" if key.kind == "syndrome" else "case") + ("" if row.count == 1 else "s")
    when = (_BASIS_EN_WEEK if weekly else _BASIS_EN)[key.basis].format(day=day)
    bound = f"above the upper bound {_shown(row.upper)} of {title}" if row.upper is not None else \
        f"an alarm of {title} (score {_shown(row.score)})"
    return f"{subject}, {place}: {row.count} {noun} {when}, {bound} (expected {_shown(row.expected)})."
