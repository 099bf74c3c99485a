"""Reading people from a CSV file for batch linkage, and writing the matched pairs back out.

Headers are matched case-insensitively with spaces, dashes, dots and underscores ignored, so "Date of
birth", "date_of_birth" and "DATE-OF-BIRTH" are the same column. Columns not listed in COLUMNS are
ignored. Several address columns (street number, address 1, address 2 ...) are joined in file order.
"""

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smartcare.regional.mpi.batch import MatchedPair
    from smartcare.regional.mpi.normalise import Person

# The header names each field accepts (compared without case, spaces, dashes, dots or underscores).
COLUMNS: dict[str, tuple[str, ...]] = {
    "identifier": ("identifier", "id", "record_id", "rec_id", "patient_id", "mrn"),
    "given_name": ("given_name", "given", "given_names", "first_name", "forename"),
    "family_name": ("family_name", "family", "surname", "last_name"),
    "full_name": ("name", "full_name"),
    "birth_date": ("birth_date", "date_of_birth", "dob", "birthdate"),
    "sex": ("sex", "gender"),
    "phone": ("phone", "phone_number", "telephone", "mobile"),
    "national_id": ("national_id", "id_number", "identity_number", "id_card", "ssn", "soc_sec_id"),
    "address": ("address", "address_line", "address_lines", "address_1", "address_2", "address_3",
                "address_line_1", "address_line_2", "address_line_3", "street", "street_number"),
    "city": ("city", "town", "suburb"),
    "postcode": ("postcode", "postal_code", "zip", "zip_code"),
}
MATCHING_FIELDS = ("given_name", "family_name", "full_name", "birth_date", "phone", "national_id", "address",
                   "postcode")
MAX_FIELD = 200
MAX_RECORDS = 2_000_000
OUTPUT_HEADER = ("left_identifier", "right_identifier", "match_probability", "match_weight", "basis")


class InputFileError(ValueError):
    """A CSV file that cannot be used for linkage; the message says where and why."""


@dataclass(frozen=True, slots=True)
class PeopleFile:
    """The people read from a file and which fields its columns gave."""

    people: "list[Person]"
    fields: tuple[str, ...]
    ignored: tuple[str, ...]


def _canonical(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.strip().lower())


_BY_HEADER = {_canonical(name): field for field, names in COLUMNS.items() for name in names}


def _column_map(header: list[str], path: Path) -> tuple[dict[str, list[int]], list[str]]:
    mapping: dict[str, list[int]] = {}
    ignored = []
    for index, name in enumerate(header):
        field = _BY_HEADER.get(_canonical(name))
        if field is None:
            ignored.append(name)
            continue
        if field != "address" and field in mapping:
            first = header[mapping[field][0]]
            raise InputFileError(f"{path}: the columns {first!r} and {name!r} both hold the {field.replace('_', ' ')}")
        mapping.setdefault(field, []).append(index)
    if not any(field in mapping for field in MATCHING_FIELDS):
        accepted = ", ".join(names[0] for names in COLUMNS.values())
        raise InputFileError(
            f"{path}: no usable columns; the header needs some of {accepted} (see `smartcare mpi --help`)"
        )
    return mapping, ignored


def read_people(path: Path, *, encoding: str = "utf-8") -> PeopleFile:
    """Read and normalise every row of a CSV file; raise InputFileError on anything unusable."""
    try:
        text = path.read_bytes().decode("utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding)
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory, not a CSV file") from None
    except OSError as error:
        raise InputFileError(f"{path}: cannot be read ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"{path}: is not {encoding} text (byte {error.start}); for a file saved by Chinese Excel try --encoding gb18030"
        ) from None
    except LookupError:
        raise InputFileError(f"unknown encoding {encoding!r}") from None
    if "\x00" in text:
        raise InputFileError(f"{path}: contains NUL bytes; it is not a CSV text file")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header or not any(cell.strip() for cell in header):
            raise InputFileError(f"{path}: is empty; the first line must be a header of column names")
        mapping, ignored = _column_map(header, path)
        people, seen = [], set()
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            line = reader.line_num
            people.append(_person(row, mapping, header, path, line, len(people)))
            if people[-1].record_id in seen:
                raise InputFileError(f"{path}, line {line}: the identifier {people[-1].record_id!r:.60} is used twice")
            seen.add(people[-1].record_id)
            if len(people) > MAX_RECORDS:
                raise InputFileError(f"{path}: more than {MAX_RECORDS:,} records; split the file")
    except csv.Error as error:
        raise InputFileError(f"{path}, line {reader.line_num}: not valid CSV ({error})") from None
    return PeopleFile(people=people, fields=tuple(mapping), ignored=tuple(ignored))


def _person(row: list[str], mapping: dict[str, list[int]], header: list[str], path: Path, line: int, n: int) -> "Person":
    from smartcare.regional.mpi.normalise import person

    if len(row) != len(header):
        raise InputFileError(f"{path}, line {line}: {len(row)} fields where the header has {len(header)}")
    for index, cell in enumerate(row):
        if len(cell) > MAX_FIELD:
            raise InputFileError(
                f"{path}, line {line}: the {header[index]!r:.40} value is longer than {MAX_FIELD} characters"
            )

    def value(field: str) -> str:
        return row[mapping[field][0]].strip() if field in mapping else ""

    record_id = value("identifier") if "identifier" in mapping else str(n + 1)
    if not record_id:
        raise InputFileError(f"{path}, line {line}: the identifier is empty")
    return person(
        record_id,
        given=value("given_name"),
        family=value("family_name"),
        full_name=value("full_name"),
        birth=value("birth_date"),
        sex_code=value("sex"),
        phone_number=value("phone"),
        id_number=value("national_id"),
        address_lines=tuple(row[i].strip() for i in mapping.get("address", [])),
        city=value("city"),
        postal_code=value("postcode"),
    )


def _safe_cell(value: str) -> str:
    # A cell starting with = + - @ runs as a formula when the CSV is opened in a spreadsheet (OWASP CSV injection).
    if value[:1] in ("=", "+", "-", "@", "\t", "\r") and not re.fullmatch(r"[-+]?\d+(\.\d+)?", value):
        return "'" + value
    return value


def write_pairs(pairs: "Iterable[MatchedPair]", stream: io.TextIOBase) -> int:
    """Write matched pairs as CSV (header first); return how many were written."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(OUTPUT_HEADER)
    count = 0
    for pair in pairs:
        writer.writerow((_safe_cell(pair.left_id), _safe_cell(pair.right_id), f"{pair.match_probability:.6f}",
                         f"{pair.match_weight:.2f}", pair.basis))
        count += 1
    return count
