"""PRC identifier numbers: the 18-digit resident identity number (GB 11643-1999) and its check digit."""

from dataclasses import dataclass
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"


class InvalidResidentId(ValueError):
    """Raised when a string is not a well-formed 18-digit resident identity number."""


@dataclass(frozen=True, slots=True)
class ResidentId:
    """The parts of a resident identity number."""

    address_code: str
    birth_date: date
    sequence: int
    gender: str


def check_character(first17: str) -> str:
    """Return the ISO 7064 MOD 11-2 check character for the first 17 digits of a resident ID."""
    if len(first17) != 17 or not first17.isdigit():
        raise InvalidResidentId("the body of a resident ID is 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def make_resident_id(*, address_code: str, birth_date: date, sequence: int) -> str:
    """Build an 18-digit resident ID; an odd `sequence` (0-999) means male, an even one female."""
    if len(address_code) != 6 or not address_code.isdigit() or not 0 <= sequence <= 999:
        raise InvalidResidentId("address code must be 6 digits and sequence 0-999")
    body = f"{address_code}{birth_date:%Y%m%d}{sequence:03d}"
    return body + check_character(body)


def parse_resident_id(value: str) -> ResidentId:
    """Validate a resident ID (length, digits, date, check character) and return its parts."""
    if len(value) != 18 or not value[:17].isdigit():
        raise InvalidResidentId("a resident ID is 17 digits and a check character")
    if check_character(value[:17]) != value[17].upper():
        raise InvalidResidentId("wrong check character")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise InvalidResidentId("invalid birth date") from exc
    sequence = int(value[14:17])
    return ResidentId(value[:6], born, sequence, "male" if sequence % 2 else "female")
