"""Laboratory orders out to the instrument middleware as HL7 v2: OML^O21 (v2.5.1) or ORM^O01 (v2.3.1).

When a lab order is accessioned, the middleware that drives the analyzers learns of it: who the patient is, the
test (LOINC), the placer order number and the specimen's accession number (its barcode), so a tube put on an
analyzer is run for the right tests. Messages are built here as plain text from plain facts; queueing and sending
through jobs is outbound_queue.py.

Settings (environment, prefix SMARTCARE_LIS_, or the .env file):

- SMARTCARE_LIS_OUTBOUND: the middleware's MLLP endpoint, host:port (e.g. 10.1.2.3:2576, [fd00::5]:2576).
  Empty (the default) switches outbound orders off: nothing is queued.
- SMARTCARE_LIS_MESSAGE_TYPE: OML^O21 (HL7 v2.5.1 with TQ1 and SPM, the default) or ORM^O01 (v2.3.1, for
  middleware that predates OML).
- SMARTCARE_LIS_RECEIVING_APPLICATION, SMARTCARE_LIS_RECEIVING_FACILITY: MSH-5 and MSH-6 as the middleware
  expects them (defaults LAB-MIDDLEWARE and LAB).
- SMARTCARE_LIS_TIMEOUT: seconds to wait for the connection and for the ACK (default 10). The wait holds no
  database transaction (the send job runs outside one), so a slow middleware delays only its own message.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from smartcare.fhir import gateway
from smartcare.fhir.errors import Gone, NotFound
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings

OML, ORM = "OML^O21", "ORM^O01"
VERSIONS = {OML: "2.5.1", ORM: "2.3.1"}
# MSH-18: "UNICODE UTF-8" arrived in v2.5; v2.3.1's table 0211 knows only "UNICODE".
CHARSETS = {OML: "UNICODE UTF-8", ORM: "UNICODE"}
SENDING_APPLICATION = "SMARTCARE"
# The identifier systems of accession.py, spelt out here because accession.py imports the queue that uses them.
PLACER = "https://smartcare.example/fhir/sid/placer-order"
ACCESSION = "https://smartcare.example/fhir/sid/accession"
LOINC = "http://loinc.org"
ORDER_SYSTEM = "https://smartcare.example/fhir/CodeSystem/order-catalogue"
HL7_SPECIMEN = "http://terminology.hl7.org/CodeSystem/v2-0487"
ID_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
AUTHORITY_SYSTEM = "urn:smartcare:hl7:assigning-authority:"
EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
ENCOUNTER_CLASS = {"AMB": "O", "IMP": "I", "EMER": "E", "ACUTE": "I", "NONAC": "I", "OBSENC": "O", "PRENC": "P",
                   "HH": "O", "VR": "O"}
SEX = {"female": "F", "male": "M", "other": "O", "unknown": "U"}
# HL7 table 0485 (TQ1-9) and the TQ priority component of v2.3.1: FHIR's urgent and asap are both "A" (ASAP).
PRIORITY = {"stat": ("S", "Stat"), "asap": ("A", "ASAP"), "urgent": ("A", "ASAP"), "routine": ("R", "Routine")}
REPRESENTATION = {"IDE": "I", "ABC": "A", "SYL": "P"}
_ESCAPES = (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\"))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_ENDPOINT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.\-]{1,253})):(?P<port>\d{1,5})$")


class OutboundSettings(BaseSettings):
    """Where lab orders go and in which HL7 form (see the module docstring for each setting)."""

    model_config = SettingsConfigDict(env_prefix="SMARTCARE_LIS_", env_file=".env", extra="ignore")

    outbound: str = ""
    message_type: Literal["OML^O21", "ORM^O01"] = OML
    receiving_application: str = Field("LAB-MIDDLEWARE", min_length=1, max_length=180)
    receiving_facility: str = Field("LAB", min_length=1, max_length=180)
    timeout: float = Field(10.0, gt=0, le=300)

    @field_validator("outbound")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        value = value.strip()
        if value and (not (found := _ENDPOINT.match(value)) or not 0 < int(found["port"]) < 65536):
            raise ValueError("SMARTCARE_LIS_OUTBOUND is host:port (e.g. 10.1.2.3:2576), or empty for none")
        return value

    @property
    def destination(self) -> tuple[str, int] | None:
        """The middleware's (host, port), or None when outbound orders are off."""
        found = _ENDPOINT.match(self.outbound)
        return (found["v6"] or found["host"], int(found["port"])) if found else None


@lru_cache(maxsize=1)
def outbound_settings() -> OutboundSettings:
    """The outbound settings, read once per process."""
    return OutboundSettings()


@dataclass(frozen=True, slots=True)
class PatientId:
    """One PID-3 repetition: the identifier, its assigning authority and its HL7 0203 type (MR, PI ...)."""

    value: str
    authority: str
    kind: str


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What an order message says, gathered from the order, its specimen, the patient and the orderer."""

    facility: str
    placer: str
    accession: str
    test_code: str
    test_name: str
    test_system: str  # HL7 0396: LN for LOINC, L for the local catalogue
    priority: str  # FHIR's: routine, urgent, asap, stat
    specimen_code: str  # HL7 0487, "" when the catalogue has none
    specimen_name: str
    patient_ids: tuple[PatientId, ...]
    names: tuple[tuple[str, str, str], ...]  # (family, given, HL7 4000 representation)
    birth_date: str  # YYYY-MM-DD or ""
    sex: str  # FHIR gender or ""
    patient_class: str  # HL7 0004
    visit: str
    provider_id: str
    provider_family: str
    provider_given: str
    ordered: datetime | None
    collected: datetime | None


def escape(text: str) -> str:
    """Text made safe for an HL7 v2 field with the standard delimiters |^~\\&; control characters become spaces."""
    for char, escaped in _ESCAPES:
        text = text.replace(char, escaped)
    return _CONTROL.sub(" ", text)


def _dtm(moment: datetime | None) -> str:
    """An HL7 DTM in the region's time with its offset (YYYYMMDDHHMMSS+ZZZZ); "" for none."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(get_settings().region_timezone)).strftime("%Y%m%d%H%M%S%z")


def _parts(*components: str, sep: str = "^") -> str:
    """Escaped components joined by sep, with empty trailing components left off."""
    return sep.join(escape(c) for c in components).rstrip(sep)


def _segment(name: str, fields: dict[int, str]) -> str:
    """A segment with the given (already escaped) fields at their 1-based positions, trailing empty ones left off."""
    last = max(fields, default=0)
    return "|".join([name, *(fields.get(i, "") for i in range(1, last + 1))]).rstrip("|")


def new_control_id(now: datetime) -> str:
    """A fresh MSH-10: twenty characters (v2.3.1's limit), the time and 32 random bits."""
    return f"{now:%y%m%d%H%M%S}{secrets.token_hex(4).upper()}"


def _msh(facts: OrderFacts, settings: OutboundSettings, *, control_id: str, now: datetime) -> str:
    message_type = settings.message_type
    structure = "OML_O21" if message_type == OML else "ORM_O01"
    return "MSH|^~\\&|" + "|".join([
        SENDING_APPLICATION, escape(facts.facility), escape(settings.receiving_application),
        escape(settings.receiving_facility), _dtm(now), "", f"{message_type}^{structure}", escape(control_id), "P",
        VERSIONS[message_type], "", "", "", "", "", CHARSETS[message_type]])


def _pid(facts: OrderFacts) -> str:
    ids = "~".join(_parts(i.value, "", "", i.authority, i.kind) for i in facts.patient_ids)
    names = "~".join(_parts(family, given, "", "", "", "", "L", code) for family, given, code in facts.names)
    born = facts.birth_date.replace("-", "")[:8]
    return _segment("PID", {1: "1", 3: ids, 5: names, 7: born, 8: SEX.get(facts.sex, "U" if facts.sex else "")})


def _provider(facts: OrderFacts) -> str:
    return _parts(facts.provider_id, facts.provider_family, facts.provider_given)


def order_message(facts: OrderFacts, settings: OutboundSettings, *, control_id: str, now: datetime,
                  control: Literal["NW", "CA"] = "NW") -> str:
    """The OML^O21 or ORM^O01 (as settings say) for one order: new (NW) or cancelled (CA)."""
    placer = _parts(facts.placer, SENDING_APPLICATION)
    accession = _parts(facts.accession, SENDING_APPLICATION)
    priority, priority_name = PRIORITY.get(facts.priority, PRIORITY["routine"])
    service = _parts(facts.test_code, facts.test_name, facts.test_system)
    pv1 = _segment("PV1", {1: "1", 2: facts.patient_class, 19: escape(facts.visit)})
    if settings.message_type == OML:
        segments = [
            _segment("ORC", {1: control, 2: placer, 9: _dtm(now), 12: _provider(facts)}),
            _segment("TQ1", {1: "1", 7: _dtm(facts.ordered), 9: _parts(priority, priority_name, "HL70485")}),
            _segment("OBR", {1: "1", 2: placer, 4: service, 7: _dtm(facts.collected), 16: _provider(facts)}),
            _segment("SPM", {1: "1", 2: _parts(facts.accession, SENDING_APPLICATION, sep="&"),
                             4: _parts(facts.specimen_code, facts.specimen_name, "HL70487" if facts.specimen_code
                                       else ""), 17: _dtm(facts.collected)}),
        ]
    else:
        timing = f"^^^{_dtm(facts.ordered)}^^{priority}"
        segments = [
            _segment("ORC", {1: control, 2: placer, 3: accession, 7: timing, 9: _dtm(now), 12: _provider(facts)}),
            _segment("OBR", {1: "1", 2: placer, 3: accession, 4: service, 7: _dtm(facts.collected),
                             15: escape(facts.specimen_code), 16: _provider(facts), 27: timing}),
        ]
    lines = [_msh(facts, settings, control_id=control_id, now=now), _pid(facts), pv1, *segments]
    return "\r".join(lines) + "\r"


def _identifier(resource: dict[str, Any], system: str) -> str:
    return next((i.get("value", "") for i in resource.get("identifier", []) if i.get("system") == system), "")


def _patient_ids(patient: dict[str, Any], facility: str) -> tuple[PatientId, ...]:
    """The hospital's medical record numbers (identifiers typed MR) first, then SmartCare's own record id."""
    found = []
    for ident in patient.get("identifier", []):
        kinds = {c.get("code") for c in (ident.get("type") or {}).get("coding", []) if c.get("system") == ID_TYPE}
        if "MR" in kinds and ident.get("value"):
            system = str(ident.get("system", ""))
            authority = system.removeprefix(AUTHORITY_SYSTEM) if system.startswith(AUTHORITY_SYSTEM) else facility
            found.append(PatientId(str(ident["value"])[:64], authority[:60], "MR"))
    return (*found, PatientId(patient["id"], SENDING_APPLICATION, "PI"))


def _names(patient: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """The official names (ideographic and alphabetic where both are kept), else the first name there is."""
    names = [n for n in patient.get("name", []) if n.get("use") == "official"] or patient.get("name", [])[:1]
    out = []
    for name in names[:2]:
        representation = next((e.get("valueCode") for e in name.get("extension", [])
                               if e.get("url") == EN_REPRESENTATION), None)
        family = name.get("family") or (name.get("text", "") if not name.get("given") else "")
        out.append((family[:100], " ".join(name.get("given", []))[:100], REPRESENTATION.get(representation, "")))
    return tuple(out)


def _test(request: dict[str, Any]) -> tuple[str, str, str]:
    codings = (request.get("code") or {}).get("coding", [])
    for system, hl7_system in ((LOINC, "LN"), (ORDER_SYSTEM, "L")):
        coding = next((c for c in codings if c.get("system") == system and c.get("code")), None)
        if coding is not None:
            name = coding.get("display") or (request.get("code") or {}).get("text", "")
            return coding["code"], name, hl7_system
    return "", (request.get("code") or {}).get("text", ""), ""


def _provider_facts(ctx: AccessContext, request: dict[str, Any]) -> tuple[str, str, str]:
    reference = str((request.get("requester") or {}).get("reference", ""))
    if not reference.startswith("Practitioner/"):
        return "", "", ""
    try:
        practitioner = gateway.read(ctx, reference)
    except (NotFound, Gone):  # a record removed since: the order still goes, naming the orderer by id
        return reference.split("/", 1)[1], "", ""
    name = (practitioner.get("name") or [{}])[0]
    family = name.get("family") or (name.get("text", "") if not name.get("given") else "")
    return reference.split("/", 1)[1], family, " ".join(name.get("given", []))


def _visit(ctx: AccessContext, request: dict[str, Any]) -> tuple[str, str]:
    reference = str((request.get("encounter") or {}).get("reference", ""))
    if not reference.startswith("Encounter/"):
        return "U", ""
    try:
        code = (gateway.read(ctx, reference).get("class") or {}).get("code", "")
    except (NotFound, Gone):  # the visit was removed since: its class is unknown
        code = ""
    return ENCOUNTER_CLASS.get(code, "U"), reference.split("/", 1)[1]


def _instant(text: str | None) -> datetime | None:
    """A FHIR dateTime with a time as an aware datetime (UTC when it names no offset); None otherwise."""
    if not text or "T" not in text:
        return None
    try:
        moment = clock.parse_instant(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def order_facts(ctx: AccessContext, request: dict[str, Any], specimen: dict[str, Any], *,
                facility: str) -> OrderFacts:
    """The facts of an accessioned order, read through the gateway as the person who accessioned it."""
    patient = gateway.read(ctx, request["subject"]["reference"])
    kind = specimen.get("type") or {}
    specimen_code = next((c.get("code", "") for c in kind.get("coding", []) if c.get("system") == HL7_SPECIMEN), "")
    test_code, test_name, test_system = _test(request)
    provider_id, provider_family, provider_given = _provider_facts(ctx, request)
    patient_class, visit = _visit(ctx, request)
    return OrderFacts(
        facility=facility, placer=_identifier(request, PLACER) or _identifier(specimen, ACCESSION),
        accession=_identifier(specimen, ACCESSION), test_code=test_code, test_name=test_name,
        test_system=test_system, priority=request.get("priority", "routine"), specimen_code=specimen_code,
        specimen_name=kind.get("text", ""), patient_ids=_patient_ids(patient, facility), names=_names(patient),
        birth_date=str(patient.get("birthDate", ""))[:10], sex=patient.get("gender", ""),
        patient_class=patient_class, visit=visit, provider_id=provider_id, provider_family=provider_family,
        provider_given=provider_given, ordered=_instant(request.get("authoredOn")),
        collected=_instant((specimen.get("collection") or {}).get("collectedDateTime")))
