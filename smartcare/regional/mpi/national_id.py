"""The PRC citizen identity number (GB 11643-1999): validate it, and read the birth date and sex it encodes.

GB 11643-1999 "Citizen identification number" gives 18 characters: a 6-digit address code (GB/T 2260),
an 8-digit birth date YYYYMMDD, a 3-digit sequence code whose last digit is odd for men and even for
women, and a check character computed by ISO 7064:1983 MOD 11-2 over the first 17 digits (weights
2^(18-i) mod 11, remainder mapped to 1 0 X 9 8 7 6 5 4 3 2). The standard's own worked example is
11010519491231002X. The 15-digit numbers of GB 11643-1989 (two-digit year, no check character) are
still found on old records: they are upgraded by inserting "19" and computing the check character.
"""

import datetime as dt
from dataclasses import dataclass

WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))
CHECK_CHARACTERS = "10X98765432"


class InvalidNationalId(ValueError):
    """A string that is not a valid PRC citizen identity number; the message says why."""


@dataclass(frozen=True, slots=True)
class NationalId:
    """A valid 18-character identity number with what it encodes."""

    number: str
    address_code: str
    birth_date: dt.date
    sex: str  # "male" or "female", as FHIR's administrative gender


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits of an identity number."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise InvalidNationalId("the check character is computed over exactly 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def clean(raw: str) -> str:
    """The number without spaces or dashes, full-width digits folded, a lower-case x made upper-case."""
    folded = raw.translate({0xFF10 + i: 0x30 + i for i in range(10)} | {0xFF38: "X", 0xFF58: "X"})
    return "".join(ch for ch in folded if ch not in " -\t").upper()


def parse(raw: str) -> NationalId:
    """Validate an 18-digit (or old 15-digit) identity number and decode it; raise InvalidNationalId if it is not one."""
    number = clean(raw)
    if len(number) == 15 and number.isascii() and number.isdigit():
        first17 = number[:6] + "19" + number[6:]
        number = first17 + check_character(first17)
    if len(number) != 18:
        raise InvalidNationalId(f"an identity number has 18 characters, this one has {len(number)}")
    first17, check = number[:17], number[17]
    if not first17.isascii() or not first17.isdigit():
        raise InvalidNationalId("the first 17 characters of an identity number must be digits")
    if check != check_character(first17):
        raise InvalidNationalId("the check character does not match (ISO 7064 MOD 11-2)")
    try:
        birth = dt.date(int(first17[6:10]), int(first17[10:12]), int(first17[12:14]))
    except ValueError:
        raise InvalidNationalId(f"the birth date {first17[6:14]} in the number is not a real date") from None
    if birth.year < 1850:
        raise InvalidNationalId(f"the birth year {birth.year} in the number is not plausible")
    sex = "male" if int(first17[16]) % 2 else "female"
    return NationalId(number=number, address_code=first17[:6], birth_date=birth, sex=sex)


def is_valid(raw: str) -> bool:
    """Whether the string is a valid PRC citizen identity number (18 digits, or an old 15-digit one)."""
    try:
        parse(raw)
    except InvalidNationalId:
        return False
    return True
