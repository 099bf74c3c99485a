"""HL7 v2 messages at the LIS edge: parse and check an inbound message, and build its ACK.

Errors carry their HL7 table 0357 code and where they were found, so the ACK's ERR segment names the
problem (HL7 v2.5.1 chapter 2, segments MSA and ERR, tables 0008 and 0357). Original-mode acknowledgement:
AR (reject) when the message cannot be taken at all (header, type, version), AE (error) when it was
read but its content cannot be applied (unknown patient or order, a bad value).
"""

import dataclasses
import re
import secrets
from dataclasses import dataclass, field

import hl7

from smartcare.platform import clock

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
# ADT is accepted from every version up to 2.8: demographics segments did not change in what we read.
ADT_VERSIONS = (*SUPPORTED_VERSIONS, "2.6", "2.7", "2.7.1", "2.8")
SUPPORTED_TYPES = {("ORU", "R01"), ("ADT", "A01"), ("ADT", "A04"), ("ADT", "A08")}
PROCESSING_IDS = ("P", "T", "D")
MAX_FIELD = 4000  # no field we read is longer; a longer one is a broken or hostile message
ERROR_TEXT = {
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    202: "Unsupported processing id",
    203: "Unsupported version id",
    204: "Unknown key identifier",
    205: "Duplicate key identifier",
    206: "Application record locked",
    207: "Application internal error",
}
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")


class Hl7Error(Exception):
    """A message that cannot be taken as sent: its HL7 0357 code, where, and AE or AR."""

    def __init__(self, message: str, *, code: int, segment: str = "", sequence: int = 1, field_no: int = 0,
                 ack_code: str = "AE") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.segment = segment
        self.sequence = sequence
        self.field_no = field_no
        self.ack_code = ack_code

    @property
    def location(self) -> str:
        """Where the problem is, e.g. "PID-3" or "OBX[2]-5"."""
        if not self.segment:
            return ""
        seq = f"[{self.sequence}]" if self.sequence > 1 else ""
        return f"{self.segment}{seq}" + (f"-{self.field_no}" if self.field_no else "")


@dataclass(frozen=True, slots=True)
class Header:
    """What MSH says about a message, enough to answer it even when the rest is unreadable."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    message_code: str = ""
    trigger_event: str = ""
    control_id: str = ""
    processing_id: str = "P"
    version: str = "2.5.1"
    separators: str = "|^~\\&"


@dataclass(slots=True)
class Inbound:
    """A parsed inbound message: its header, the python-hl7 tree and the raw text."""

    header: Header
    message: hl7.Message
    raw: str
    segments: list[hl7.Segment] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """Message type and event, e.g. "ORU^R01"."""
        return f"{self.header.message_code}^{self.header.trigger_event}"


def value(seg: hl7.Segment, field_no: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
    """One leaf of a segment (1-based like the standard), unescaped; "" when absent."""
    if seg is None or field_no >= len(seg):
        return ""
    try:
        text = seg.extract_field(1, field_no, rep, comp, sub)
    except IndexError:  # the path goes deeper than the value sent (e.g. a component of a plain field)
        return ""
    return str(text).strip()


def repetitions(seg: hl7.Segment, field_no: int, separators: str) -> int:
    """How many repetitions a field holds (0 when it is empty)."""
    if field_no >= len(seg):
        return 0
    raw = str(seg(field_no))
    return len(raw.split(separators[2])) if raw else 0


def segment_name(seg: hl7.Segment) -> str:
    """The segment's three-letter id."""
    return str(seg[0]).strip()


def normalise(raw: str) -> str:
    """Segments separated by CR alone, as the standard has it (files and some senders use LF or CRLF)."""
    text = raw.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x00 \t")
    return text


def _raw_header(text: str) -> Header:
    """The header read by plain splitting, for answering messages python-hl7 cannot parse."""
    if not text.startswith("MSH") or len(text) < 8:
        return Header()
    sep = text[3]
    parts = text.split("\r", 1)[0].split(sep)
    get = (lambda i: parts[i - 1][:199] if len(parts) >= i else "")  # noqa: E731  (MSH-1 is the separator)
    comp = get(2)[:1] or "^"
    msg_type = get(9).split(comp)
    return Header(sending_application=get(3).split(comp)[0], sending_facility=get(4).split(comp)[0],
                  receiving_application=get(5).split(comp)[0], receiving_facility=get(6).split(comp)[0],
                  message_code=msg_type[0][:3], trigger_event=msg_type[1][:3] if len(msg_type) > 1 else "",
                  control_id=get(10), processing_id=get(11).split(comp)[0] or "P",
                  version=get(12).split(comp)[0] or "2.5.1")


def _check_delimiters(text: str) -> None:
    sep = text[3] if len(text) > 3 else ""
    if not sep or sep.isalnum() or sep in " \r\n":
        raise Hl7Error("MSH-1 field separator is missing or invalid", code=102, segment="MSH", field_no=1,
                       ack_code="AR")
    encoding = text[4:].split(sep, 1)[0]
    if len(encoding) not in (4, 5) or len(set(encoding)) != len(encoding) or sep in encoding \
            or any(ch.isalnum() or ch in " \r\n" for ch in encoding):
        raise Hl7Error(f"MSH-2 encoding characters {encoding[:8]!r} are invalid (expected four distinct "
                       "symbols such as ^~\\&)", code=102, segment="MSH", field_no=2, ack_code="AR")


def _check_header(header: Header) -> None:
    for field_no, name, got in ((9, "message type", header.message_code), (10, "control id", header.control_id),
                                (11, "processing id", header.processing_id), (12, "version id", header.version)):
        if not got:
            raise Hl7Error(f"MSH-{field_no} {name} is missing", code=101, segment="MSH", field_no=field_no,
                           ack_code="AR")
    if len(header.control_id) > 199:
        raise Hl7Error("MSH-10 control id is longer than 199 characters", code=102, segment="MSH", field_no=10,
                       ack_code="AR")
    if (header.message_code, header.trigger_event) not in SUPPORTED_TYPES:
        raise Hl7Error(f"{header.message_code}^{header.trigger_event} is not accepted here (ORU^R01, "
                       "ADT^A01/A04/A08)", code=200, segment="MSH", field_no=9, ack_code="AR")
    versions = ADT_VERSIONS if header.message_code == "ADT" else SUPPORTED_VERSIONS
    if header.version not in versions:
        raise Hl7Error(f"version {header.version[:20]} is not accepted for {header.message_code} "
                       f"({', '.join(versions)})", code=203, segment="MSH", field_no=12, ack_code="AR")
    if header.processing_id not in PROCESSING_IDS:
        raise Hl7Error(f"MSH-11 processing id {header.processing_id[:5]!r} is not P, T or D", code=202,
                       segment="MSH", field_no=11, ack_code="AR")


def header_of(text: str) -> Header:
    """The header of a raw message as far as it can be read (empty fields when it cannot)."""
    return _raw_header(normalise(text))


def parse(raw: str) -> Inbound:
    """Parse and check an inbound message; Hl7Error (with its 0357 code) when it cannot be taken."""
    text = normalise(raw)
    if not text.startswith("MSH"):
        raise Hl7Error("the message does not start with an MSH segment", code=100, segment="MSH", ack_code="AR")
    _check_delimiters(text)
    header = _raw_header(text)
    _check_header(header)
    try:
        message = hl7.parse(text)
    except (hl7.ParseException, IndexError, ValueError) as exc:
        raise Hl7Error(f"the message cannot be parsed: {str(exc)[:200]}", code=102, segment="MSH",
                       ack_code="AR") from exc
    segments = list(message)
    for i, seg in enumerate(segments):
        name = segment_name(seg)
        if not _SEGMENT_ID.match(name):
            raise Hl7Error(f"segment {i + 1} has no valid segment id ({name[:10]!r}): the message is truncated or "
                           "garbled", code=100, segment=name[:3] or "???", ack_code="AR")
        if any(len(str(f)) > MAX_FIELD for f in seg):
            raise Hl7Error(f"a field of {name} is longer than {MAX_FIELD} characters", code=102, segment=name,
                           ack_code="AE")
    separators = header.separators
    if len(text) > 8:
        separators = text[3] + text[4:8]
    header = dataclasses.replace(header, separators=separators)
    return Inbound(header=header, message=message, raw=text, segments=segments)


def new_control_id() -> str:
    """A fresh control id for a message we send (time plus randomness; unique enough to trace)."""
    return clock.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(4).upper()


def _escape(text: str) -> str:
    for ch, esc in (("\\", "\\E\\"), ("|", "\\F\\"), ("^", "\\S\\"), ("&", "\\T\\"), ("~", "\\R\\")):
        text = text.replace(ch, esc)
    return text.replace("\r", " ").replace("\n", " ")


def build_ack(header: Header, *, ack_code: str, error: Hl7Error | None = None, text: str = "") -> str:
    """The ACK for a message with this header: MSH, MSA (code, the message's MSH-10) and ERR if there was one."""
    stamp = clock.now().strftime("%Y%m%d%H%M%S")
    event = header.trigger_event
    version = header.version if header.version in ADT_VERSIONS else "2.5.1"
    msh = ["MSH", "^~\\&", "SMARTCARE-LIS", "SMARTCARE", _escape(header.sending_application),
           _escape(header.sending_facility), stamp, "", f"ACK^{event}^ACK" if event else "ACK",
           new_control_id(), header.processing_id if header.processing_id in PROCESSING_IDS else "P", version]
    message = text or (error.message if error else "")
    segments = ["|".join(msh), "|".join(["MSA", ack_code, _escape(header.control_id), _escape(message[:80])])]
    if error is not None:
        words = ERROR_TEXT.get(error.code, "Application error")
        legacy = f"{error.segment}^{error.sequence}^{error.field_no or ''}^{error.code}&{words}&HL70357"
        location = f"{error.segment}^{error.sequence}^{error.field_no or ''}" if error.segment else ""
        severity = "E"
        segments.append("|".join(["ERR", legacy if error.segment else f"^^^{error.code}&{words}&HL70357", location,
                                  f"{error.code}^{words}^HL70357", severity, "", "", "",
                                  _escape(error.message[:250])]))
    return "\r".join(segments) + "\r"


def ack_code_of(ack: str) -> str:
    """MSA-1 of an ACK text ("AA", "AE", "AR"), or "" when it has none."""
    for seg in normalise(ack).split("\r"):
        if seg.startswith("MSA"):
            parts = seg.split(seg[3] if len(seg) > 3 else "|")
            return parts[1] if len(parts) > 1 else ""
    return ""
