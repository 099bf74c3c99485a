"""Reading what the archive needs from a Part 10 file's bytes in one pass, without building a pydicom Dataset.

The C-STORE path stores instances as received and indexes about twenty attributes of each (UIDs, patient and
study attributes, image geometry). pydicom decodes every element into a Dataset for that; this scanner walks
the top-level elements of the bytes once (PS3.5 7.1: explicit VR and implicit VR little endian, deflated
explicit VR), steps over sequences, items and encapsulated pixel data, and keeps the raw values of the wanted
tags, about ten times faster. It is strict: a VR that is not a DICOM VR, a length that runs past the end, an
unterminated sequence or trailing garbage makes the file unreadable (ScanError with the reason), so nothing is
stored that pydicom could not read back for the viewer.

Text is decoded with the file's Specific Character Set (0008,0005) through pydicom's charset module, so a
GB18030 or ISO 2022 patient name reads the same as pydicom reads it.
"""

import struct
import zlib
from dataclasses import dataclass, field

from pydicom.charset import convert_encodings, decode_bytes
from pydicom.valuerep import TEXT_VR_DELIMS

IMPLICIT_LE = "1.2.840.10008.1.2"
EXPLICIT_LE = "1.2.840.10008.1.2.1"
DEFLATED_LE = "1.2.840.10008.1.2.1.99"
EXPLICIT_BE = "1.2.840.10008.1.2.2"
UNDEFINED = 0xFFFFFFFF
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
# Sequences of undefined length are walked recursively; real content trees (SR) nest a dozen levels, pydicom
# itself fails at about 200, and a few kilobytes of hostile nesting must not exhaust Python's stack.
MAX_DEPTH = 64
# A deflated dataset is inflated whole to be walked: a few megabytes of zeros must not become gigabytes.
MAX_INFLATED = 2**30

# PS3.5 Table 7.1-1: these VRs have a 2-byte reserved field and a 4-byte length; the rest a 2-byte length.
LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
SHORT_VRS = frozenset({b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"PN",
                       b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"})

# The tags the archive reads, by keyword (PS3.6), with the VR used when the encoding is implicit.
WANTED: dict[int, tuple[str, str]] = {
    0x00080005: ("SpecificCharacterSet", "CS"),
    0x00080016: ("SOPClassUID", "UI"),
    0x00080018: ("SOPInstanceUID", "UI"),
    0x00080020: ("StudyDate", "DA"),
    0x00080030: ("StudyTime", "TM"),
    0x00080050: ("AccessionNumber", "SH"),
    0x00080060: ("Modality", "CS"),
    0x00080090: ("ReferringPhysicianName", "PN"),
    0x00081030: ("StudyDescription", "LO"),
    0x0008103E: ("SeriesDescription", "LO"),
    0x00100010: ("PatientName", "PN"),
    0x00100020: ("PatientID", "LO"),
    0x00100030: ("PatientBirthDate", "DA"),
    0x00100040: ("PatientSex", "CS"),
    0x00180015: ("BodyPartExamined", "CS"),
    0x0020000D: ("StudyInstanceUID", "UI"),
    0x0020000E: ("SeriesInstanceUID", "UI"),
    0x00200010: ("StudyID", "SH"),
    0x00200011: ("SeriesNumber", "IS"),
    0x00200013: ("InstanceNumber", "IS"),
    0x00280002: ("SamplesPerPixel", "US"),
    0x00280004: ("PhotometricInterpretation", "CS"),
    0x00280008: ("NumberOfFrames", "IS"),
    0x00280010: ("Rows", "US"),
    0x00280011: ("Columns", "US"),
    0x00280100: ("BitsAllocated", "US"),
    0x00420011: ("EncapsulatedDocument", "OB"),
    0x7FE00008: ("FloatPixelData", "OF"),
    0x7FE00009: ("DoubleFloatPixelData", "OD"),
    PIXEL_DATA: ("PixelData", "OW"),
}
_TEXT_VRS = {"PN", "LO", "SH", "LT", "ST", "UT", "UC"}
_H = struct.Struct("<H")
_I = struct.Struct("<I")
_TAG_LENGTH = struct.Struct("<HHI")
_TAG_VR_SHORT = struct.Struct("<HH2sH")


class ScanError(ValueError):
    """The bytes are not a DICOM file this archive can read; the message says where and why."""


@dataclass(slots=True)
class Header:
    """The wanted elements of a Part 10 file: the transfer syntax, raw values by keyword, and pixel data facts."""

    transfer_syntax: str
    raw: dict[str, bytes] = field(default_factory=dict)
    vrs: dict[str, str] = field(default_factory=dict)
    # Encapsulated (compressed) pixel data: fragments in items, undefined length.
    encapsulated: bool = False
    pixel_length: int = 0
    encodings: list[str] | None = None

    def text(self, keyword: str, limit: int) -> str:
        """The value as text (multiple values joined by backslash), trailing padding removed, at most limit."""
        value = self.raw.get(keyword)
        if not value:
            return ""
        vr = self.vrs.get(keyword)
        # ISO 2022 code extensions (Japanese, Korean) switch character sets with ESC sequences in 7-bit bytes.
        if vr in _TEXT_VRS and (not value.isascii() or b"\x1b" in value):
            if self.encodings is None:
                self.encodings = _encodings(self.raw.get("SpecificCharacterSet", b""))
            text = decode_bytes(value, self.encodings, TEXT_VR_DELIMS)
        else:
            text = value.decode("latin-1")
        text = text.strip(" \x00")
        if vr == "PN":
            # As pydicom reads a name: empty trailing component groups ('Wang^XiaoDong=王^小東=') are dropped.
            text = "\\".join(name.rstrip("=") for name in text.split("\\"))
        return text[:limit]

    def uid(self, keyword: str) -> str:
        """A UI value without its padding ('' when absent)."""
        return self.raw.get(keyword, b"").decode("latin-1").strip(" \x00")

    def number(self, keyword: str) -> int | None:
        """An IS or US value as an int (None when absent, empty or not a number)."""
        value = self.raw.get(keyword)
        if value is None:
            return None
        if self.vrs.get(keyword) == "US":
            return _H.unpack_from(value)[0] if len(value) >= 2 else None
        try:
            return int(value.decode("latin-1").strip(" \x00").split("\\")[0])
        except ValueError:
            return None

    def present(self, keyword: str) -> bool:
        """True when the element is there with a value (for pixel data: any length, compressed or not)."""
        if keyword == "PixelData":
            return self.pixel_length > 0 or self.encapsulated
        return bool(self.raw.get(keyword))


def _encodings(value: bytes) -> list[str]:
    terms = [term.strip(" \x00") for term in value.decode("latin-1").split("\\")]
    try:
        encodings = convert_encodings(terms if any(terms) else ["ISO_IR 6"])
        for encoding in encodings:
            # pydicom passes unknown terms on as Python codec names: 'hex' or 'undefined' decode no text, not
            # even with the replacement characters pydicom falls back to.
            b"A\x80".decode(encoding, "replace")
    except (LookupError, ValueError) as exc:
        raise ScanError(f"the Specific Character Set {value[:64]!r} cannot decode text ({exc})") from exc
    return encodings


def scan(data: bytes) -> Header:
    """The header of the Part 10 file in data; ScanError when it is not one or cannot be read to its end."""
    if len(data) < 132 or data[128:132] != b"DICM":
        raise ScanError("not a DICOM Part 10 file (no 'DICM' after the 128-byte preamble)")
    view = memoryview(data)
    meta: dict[int, bytes] = {}
    position = 132
    while position + 8 <= len(data) and _H.unpack_from(data, position)[0] == 0x0002:
        position = _explicit_element(view, position, len(data), meta)
    syntax = meta.get(0x00020010, b"").decode("latin-1").strip(" \x00")
    if not syntax:
        raise ScanError("the file meta information has no Transfer Syntax UID (0002,0010)")
    header = Header(transfer_syntax=syntax)
    body, start = view, position
    if syntax == EXPLICIT_BE:
        raise ScanError("Explicit VR Big Endian (retired) is not stored; send the images in little endian")
    if syntax == DEFLATED_LE:
        try:
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            inflated = inflater.decompress(bytes(view[position:]), MAX_INFLATED)
        except zlib.error as exc:
            raise ScanError(f"the deflated dataset cannot be inflated ({exc})") from exc
        if inflater.unconsumed_tail:
            raise ScanError(f"the deflated dataset inflates to more than {MAX_INFLATED} bytes")
        if not inflater.eof:
            raise ScanError("the deflated dataset is truncated")
        body, start = memoryview(inflated), 0
    _dataset(body, start, len(body), header, implicit=syntax == IMPLICIT_LE)
    if "SpecificCharacterSet" in header.raw:
        # Checked here, where a bad one is a ScanError; Header.text is called where only Refused is expected.
        header.encodings = _encodings(header.raw["SpecificCharacterSet"])
    return header


def _explicit_header(view: memoryview, position: int, end: int, group: int, element: int) -> tuple[bytes, int, int]:
    """The VR and value length of the explicit VR element whose tag is at position, and where its value starts."""
    vr = bytes(view[position + 4:position + 6])
    if vr in LONG_VRS:
        if position + 12 > end:
            raise ScanError(f"the file ends inside the header of ({group:04X},{element:04X})")
        return vr, _I.unpack_from(view, position + 8)[0], position + 12
    if vr in SHORT_VRS:
        return vr, _H.unpack_from(view, position + 6)[0], position + 8
    raise ScanError(f"({group:04X},{element:04X}) has no valid VR ({vr!r}): the data is not explicit VR as the "
                    "transfer syntax says")


def _explicit_element(view: memoryview, position: int, end: int, found: dict[int, bytes]) -> int:
    """Read one explicit VR element at position (meta group only: defined lengths); the next position."""
    if position + 8 > end:
        raise ScanError(f"the file ends inside an element header at byte {position}")
    group, element = _H.unpack_from(view, position)[0], _H.unpack_from(view, position + 2)[0]
    _vr, length, position = _explicit_header(view, position, end, group, element)
    if length == UNDEFINED or position + length > end:
        raise ScanError(f"({group:04X},{element:04X}) claims {length} bytes where {end - position} remain "
                        "(truncated?)")
    found[group << 16 | element] = bytes(view[position:position + length])
    return position + length


def _dataset(view: memoryview, position: int, end: int, header: Header | None, *, implicit: bool,
             in_item: bool = False, depth: int = 0) -> int:
    """Walk elements from position to end (or to an item delimiter when in_item); the position after them.

    header collects the wanted top-level elements; nested datasets are walked with header None."""
    while position < end:
        if position + 8 > end:
            raise ScanError(f"the file ends inside an element header at byte {position}")
        group, element, length = _TAG_LENGTH.unpack_from(view, position)
        tag = group << 16 | element
        if tag == ITEM_END:
            if not in_item:
                raise ScanError(f"an item delimiter outside any item at byte {position}")
            return position + 8
        if implicit or group == 0xFFFE:
            vr = b""
            position += 8
        else:
            vr, length, position = _explicit_header(view, position, end, group, element)
        if length == UNDEFINED:
            if tag == PIXEL_DATA and not implicit and vr in (b"OB", b"OW"):
                position = _fragments(view, position, end)
                if header is not None:
                    header.encapsulated = True
                continue
            if implicit or vr == b"SQ" or vr == b"UN":
                # An undefined-length UN is a sequence encoded implicit VR (PS3.5 6.2.2).
                position = _sequence(view, position, end, implicit=implicit or vr == b"UN", depth=depth + 1)
                continue
            raise ScanError(f"({group:04X},{element:04X}) has an undefined length its VR does not allow")
        if position + length > end:
            raise ScanError(f"({group:04X},{element:04X}) claims {length} bytes where {end - position} remain "
                            "(truncated?)")
        if header is not None:
            wanted = WANTED.get(tag)
            if wanted is not None:
                keyword, implicit_vr = wanted
                if tag == PIXEL_DATA:
                    header.pixel_length = length
                else:
                    header.raw[keyword] = bytes(view[position:position + length])
                    header.vrs[keyword] = vr.decode("latin-1") if vr else implicit_vr
        position += length
    if in_item:
        raise ScanError("the file ends inside a sequence item")
    return position


def _sequence(view: memoryview, position: int, end: int, *, implicit: bool, depth: int) -> int:
    """Step over the items of an undefined-length sequence; the position after its delimiter."""
    if depth > MAX_DEPTH:
        raise ScanError(f"sequences nested more than {MAX_DEPTH} deep")
    while position + 8 <= end:
        tag_group, tag_element, length = _TAG_LENGTH.unpack_from(view, position)
        tag = tag_group << 16 | tag_element
        position += 8
        if tag == SEQUENCE_END:
            return position
        if tag != ITEM:
            raise ScanError(f"a sequence holds ({tag_group:04X},{tag_element:04X}) where an item belongs")
        if length == UNDEFINED:
            position = _dataset(view, position, end, None, implicit=implicit, in_item=True, depth=depth)
        elif position + length > end:
            raise ScanError(f"a sequence item claims {length} bytes where {end - position} remain (truncated?)")
        else:
            position += length
    raise ScanError("the file ends inside a sequence")


def _fragments(view: memoryview, position: int, end: int) -> int:
    """Step over encapsulated pixel data (offset table and fragments); the position after its delimiter."""
    while position + 8 <= end:
        tag_group, tag_element, length = _TAG_LENGTH.unpack_from(view, position)
        tag = tag_group << 16 | tag_element
        position += 8
        if tag == SEQUENCE_END:
            return position
        if tag != ITEM or length == UNDEFINED or position + length > end:
            raise ScanError("encapsulated pixel data is broken: fragments must be items of defined length "
                            "(truncated?)")
        position += length
    raise ScanError("the file ends inside the encapsulated pixel data")
