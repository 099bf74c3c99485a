"""C-FIND against the study index: DICOM attribute matching (PS3.4 C.2.2.2) turned into SQL.

Supported: universal matching (an empty key only asks for the value), single value, wildcards (* and ?) on
text, lists of UIDs (backslash separated), date and time ranges (20260101-20260131, -20260131, 20260101-),
and ModalitiesInStudy matching any one of the study's modalities. Each answer carries the keys asked for, with
the index's values where it has them and empty otherwise. Text matching is case-sensitive, as the standard
says for all but PN, and the same on SQLite and PostgreSQL.
"""

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from sqlalchemy.engine import Connection

from smartcare.hospital.imaging.models import imaging_instance, imaging_series, imaging_study

LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
MAX_MATCHES = 1000
_ESCAPE = "!"
_study, _series, _instance = imaging_study.c, imaging_series.c, imaging_instance.c


@dataclass(frozen=True, slots=True)
class Key:
    """A query key: the level it belongs to, the column that answers it and how it is matched."""

    level: str
    column: Any
    kind: str  # text, uid, date, time, number, modalities, count


KEYS: dict[str, Key] = {
    "PatientID": Key("PATIENT", _study.patient_id, "text"),
    "PatientName": Key("PATIENT", _study.patient_name, "text"),
    "PatientBirthDate": Key("PATIENT", _study.patient_birth_date, "date"),
    "PatientSex": Key("PATIENT", _study.patient_sex, "text"),
    "NumberOfPatientRelatedStudies": Key("PATIENT", sa.func.count(_study.id), "count"),
    "StudyInstanceUID": Key("STUDY", _study.study_uid, "uid"),
    "StudyDate": Key("STUDY", _study.study_date, "date"),
    "StudyTime": Key("STUDY", _study.study_time, "time"),
    "AccessionNumber": Key("STUDY", _study.accession_number, "text"),
    "StudyDescription": Key("STUDY", _study.study_description, "text"),
    "ModalitiesInStudy": Key("STUDY", _study.modalities, "modalities"),
    "ReferringPhysicianName": Key("STUDY", _study.referring_physician, "text"),
    "StudyID": Key("STUDY", _study.study_id, "text"),
    "NumberOfStudyRelatedSeries": Key("STUDY", _study.series_count, "count"),
    "NumberOfStudyRelatedInstances": Key("STUDY", _study.instance_count, "count"),
    "SeriesInstanceUID": Key("SERIES", _series.series_uid, "uid"),
    "Modality": Key("SERIES", _series.modality, "text"),
    "SeriesNumber": Key("SERIES", _series.series_number, "number"),
    "SeriesDescription": Key("SERIES", _series.series_description, "text"),
    "BodyPartExamined": Key("SERIES", _series.body_part, "text"),
    "NumberOfSeriesRelatedInstances": Key("SERIES", _series.instance_count, "count"),
    "SOPInstanceUID": Key("IMAGE", _instance.sop_instance_uid, "uid"),
    "SOPClassUID": Key("IMAGE", _instance.sop_class_uid, "uid"),
    "InstanceNumber": Key("IMAGE", _instance.instance_number, "number"),
}
_PATIENT_GROUP = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex")


class QueryError(ValueError):
    """An identifier that cannot be answered (unknown level, a key of a level below the one asked)."""


def _like(value: str) -> str:
    escaped = value.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    return escaped.replace("*", "%").replace("?", "_")


def _text_condition(column: Any, value: str) -> Any:
    if "*" in value or "?" in value:
        return column.like(_like(value), escape=_ESCAPE)
    return column == value


def _range_condition(column: Any, value: str) -> Any:
    if "-" not in value:
        return column == value
    low, _, high = value.partition("-")
    parts = [column != ""]
    if low:
        parts.append(column >= low)
    if high:
        # A time range's end covers the whole of its last unit (-0830 takes 083059.99).
        parts.append(column <= high + ("\uffff" if len(high) < 8 else ""))
    return sa.and_(*parts)


def _modalities_condition(value: str) -> Any:
    wrapped = sa.literal("\\") + _study.modalities + sa.literal("\\")
    return sa.or_(*(wrapped.like(f"%\\{_like(code)}\\%", escape=_ESCAPE) for code in value.split("\\") if code))


def condition(key: Key, value: str) -> Any:
    """The SQL condition matching key against a query value (None for universal matching)."""
    value = value.strip()
    if not value or value == "*" or key.kind == "count":
        return None
    if key.kind == "uid":
        return key.column.in_([v.strip() for v in value.split("\\") if v.strip()][:1000])
    if key.kind in ("date", "time"):
        return _range_condition(key.column, value)
    if key.kind == "number":
        try:
            return key.column == int(value)
        except ValueError:
            return sa.false()
    if key.kind == "modalities":
        return _modalities_condition(value)
    return _text_condition(key.column, value)


def _query_value(element: Any) -> str:
    value = element.value
    if value is None:
        return ""
    if isinstance(value, (list, MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value)


def _base(level: str) -> Any:
    if level == "PATIENT":
        columns = [KEYS[k].column.label(k) for k in (*_PATIENT_GROUP, "NumberOfPatientRelatedStudies")]
        return sa.select(*columns).group_by(*(KEYS[k].column for k in _PATIENT_GROUP))
    depth = LEVELS.index(level)
    columns = [key.column.label(name) for name, key in KEYS.items()
               if LEVELS.index(key.level) <= depth and name != "NumberOfPatientRelatedStudies"]
    query = sa.select(*columns).select_from(imaging_study)
    if depth >= 2:
        query = query.join(imaging_series, _series.study == _study.id)
    if depth >= 3:
        query = query.join(imaging_instance, _instance.series == _series.id)
    return query


# PS3.5 Table 7.1-1: VRs with a 4-byte length in explicit VR.
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})
_CHARSET, _LEVEL = 0x00080005, 0x00080052


@dataclass(frozen=True, slots=True)
class Answer:
    """One C-FIND match: each key the identifier asked for (tag, VR, keyword) with the index's value or None.

    encode() writes the identifier's bytes straight from the values (UTF-8 text, Specific Character Set
    ISO_IR 192), for the fast path; dataset() builds the pydicom Dataset pynetdicom's handler yields."""

    level: str
    values: tuple[tuple[int, str, str, Any], ...]

    def dataset(self) -> Dataset:
        """The answer as a pydicom Dataset."""
        out = Dataset()
        out.SpecificCharacterSet = "ISO_IR 192"
        for tag, vr, keyword, value in self.values:
            if value is None:
                out.add_new(tag, vr, None)
            else:
                setattr(out, keyword, value)
        out.QueryRetrieveLevel = self.level
        return out

    def encode(self, implicit: bool) -> bytes:
        """The answer as a dataset in implicit or explicit VR little endian, elements in tag order."""
        elements = [(_CHARSET, "CS", "ISO_IR 192"), (_LEVEL, "CS", self.level)]
        elements += [(tag, vr, value) for tag, vr, _keyword, value in self.values]
        out = []
        for tag, vr, value in sorted(elements, key=lambda e: e[0]):
            data = b"" if value is None or vr == "SQ" else str(value).encode("utf-8")
            if len(data) % 2:
                data += b"\x00" if vr == "UI" else b" "
            if implicit:
                out.append(struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(data)))
            elif vr in _LONG_VRS:
                out.append(struct.pack("<HH2s2xI", tag >> 16, tag & 0xFFFF, vr.encode("ascii"), len(data)))
            else:
                out.append(struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode("ascii"), len(data)))
            out.append(data)
        return b"".join(out)


def _asked(identifier: Dataset) -> list[tuple[int, str, str]]:
    """The keys to answer: (tag, VR, keyword) of the identifier's standard elements but the level and charset."""
    asked = []
    for element in identifier:
        keyword = element.keyword
        if keyword in ("QueryRetrieveLevel", "SpecificCharacterSet") or not keyword:
            continue
        asked.append((int(element.tag), element.VR, keyword))
    return asked


def find(conn: Connection, identifier: Dataset) -> Iterator[Answer]:
    """The matches of a C-FIND identifier at its QueryRetrieveLevel (at most MAX_MATCHES); QueryError if bad."""
    level = str(identifier.get("QueryRetrieveLevel", "")).strip().upper()
    if level not in LEVELS:
        raise QueryError(f"QueryRetrieveLevel {level[:16]!r} is not PATIENT, STUDY, SERIES or IMAGE")
    query = _base(level)
    depth = LEVELS.index(level)
    for element in identifier:
        key = KEYS.get(element.keyword)
        if key is None or element.VR == "SQ":
            continue
        if LEVELS.index(key.level) > depth:
            raise QueryError(f"{element.keyword} is a key below the {level} level")
        where = condition(key, _query_value(element))
        if where is not None:
            query = query.having(where) if level == "PATIENT" else query.where(where)
    order = {"PATIENT": _study.patient_id, "STUDY": _study.study_date, "SERIES": _series.series_number,
             "IMAGE": _instance.instance_number}[level]
    asked = _asked(identifier)
    for row in conn.execute(query.order_by(order).limit(MAX_MATCHES)):
        values = row._mapping
        yield Answer(level, tuple((tag, vr, keyword, values.get(keyword) if keyword in values else None)
                                  for tag, vr, keyword in asked))


def describe(identifier: Dataset, matches: int) -> str:
    """A C-FIND for the audit trail: its level, the keys with a value to match, how many answers it got."""
    keys = []
    for element in identifier:
        if element.keyword in KEYS and element.VR != "SQ":
            value = _query_value(element).strip()
            if value and value != "*":
                keys.append(f"{element.keyword}={value[:64]}")
    level = str(identifier.get("QueryRetrieveLevel", "")).strip()[:16]
    return "&".join((f"ImagingStudy?dicom-c-find={level}", *keys, f"matches={matches}"))[:500]
