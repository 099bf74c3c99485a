"""FHIR Patient resources to normalised MPI records: names (Chinese or Latin), birth date, sex, phone, address, ids."""

from typing import Any

from smartcare.platform.security.signup import RESIDENT_ID_SYSTEM
from smartcare.regional.mpi.normalise import Person, has_chinese, person

# Identifier types that mean a national person number (HL7 v2 table 0203): NI, and NN + ISO country code.
NATIONAL_ID_TYPES = frozenset({"NI", "NNCHN"})
# Longer values are not demographics anyone typed: cut so a hostile resource costs nothing to normalise.
MAX_VALUE = 200
_NAME_USE_ORDER = {"official": 0, "usual": 1, None: 2, "maiden": 3, "nickname": 4, "anonymous": 5, "old": 6}


def _text(value: Any) -> str:
    return value[:MAX_VALUE] if isinstance(value, str) else ""


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)][:20] if isinstance(value, list) else []


def _name(resource: dict[str, Any]) -> tuple[str, str, str]:
    """(family, given, full text) of the best name: official first, Chinese characters preferred within a use."""
    names = sorted(_dicts(resource.get("name")), key=lambda n: (
        _NAME_USE_ORDER.get(n.get("use"), 2), not has_chinese(_text(n.get("text")) + _text(n.get("family")))))
    for name in names:
        family = _text(name.get("family"))
        given_parts = [_text(g) for g in name.get("given") or [] if isinstance(g, str)][:5] \
            if isinstance(name.get("given"), list) else []
        given = ("" if has_chinese("".join(given_parts)) else " ").join(given_parts)
        text = _text(name.get("text"))
        if family or given or text:
            return family, given, text
    return "", "", ""


def _phone(resource: dict[str, Any]) -> str:
    for telecom in _dicts(resource.get("telecom")):
        if telecom.get("system") in ("phone", "sms") and _text(telecom.get("value")):
            return _text(telecom.get("value"))
    return ""


def _address(resource: dict[str, Any]) -> tuple[tuple[str, ...], str, str]:
    addresses = sorted(_dicts(resource.get("address")), key=lambda a: a.get("use") != "home")
    for address in addresses:
        lines = tuple(_text(line) for line in address.get("line") or [] if isinstance(line, str))[:5] \
            if isinstance(address.get("line"), list) else ()
        if lines or address.get("postalCode") or address.get("city"):
            return lines, _text(address.get("city")), _text(address.get("postalCode"))
    return (), "", ""


def national_id_of(resource: dict[str, Any]) -> str:
    """The resident identity number a Patient carries (by SmartCare's system or an NI/NNCHN type), or ""."""
    for identifier in _dicts(resource.get("identifier")):
        codes = {c.get("code") for c in _dicts((identifier.get("type") or {}).get("coding"))} \
            if isinstance(identifier.get("type"), dict) else set()
        if identifier.get("system") == RESIDENT_ID_SYSTEM or codes & NATIONAL_ID_TYPES:
            if value := _text(identifier.get("value")):
                return value
    return ""


def person_of(resource: dict[str, Any], *, record_id: str | None = None) -> Person:
    """The Patient normalised for matching; its record id is Patient/<id> unless given."""
    family, given, text = _name(resource)
    lines, city, postcode = _address(resource)
    return person(
        record_id or f"Patient/{_text(resource.get('id'))}",
        family=family, given=given, full_name=text if not (family or given) else "",
        birth=_text(resource.get("birthDate")), sex_code=_text(resource.get("gender")),
        phone_number=_phone(resource), id_number=national_id_of(resource),
        address_lines=lines, city=city, postal_code=postcode,
    )


def usable(record: Person) -> bool:
    """Whether the record holds enough to match on: a valid identity number, or a name with a birth date or phone."""
    named = bool(record.given or record.family)
    return record.id_valid or (named and bool(record.birth or record.phone))
