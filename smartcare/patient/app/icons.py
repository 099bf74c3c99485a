"""The app's home-screen icons, drawn here as PNGs (a white cross on the app's colour) with no artwork to license.

Pure Python (zlib + struct), so the icons need no imaging library and are the same bytes on every machine.
"""

import struct
import zlib
from functools import lru_cache

BACKGROUND = (11, 87, 208)  # #0b57d0, the shell's primary blue
CROSS = (255, 255, 255)
SIZES = (192, 512)
# A maskable icon may be cropped to a circle of 80% of its width: the cross stays inside that safe zone.
_CROSS_SHARE = {"any": 0.6, "maskable": 0.44}
_ARM_SHARE = 0.34  # the cross's arm thickness as a share of its length


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _row(size: int, y: int, low: int, high: int, arm_low: int, arm_high: int) -> bytes:
    """One scanline: background, with the cross's horizontal arm or the vertical bar where they cross y."""
    in_arm = arm_low <= y < arm_high
    in_bar_rows = low <= y < high
    pixels = bytearray()
    for x in range(size):
        on_cross = (in_arm and low <= x < high) or (in_bar_rows and arm_low <= x < arm_high)
        pixels += bytes(CROSS if on_cross else BACKGROUND)
    return b"\x00" + bytes(pixels)  # filter type 0 (none) for each scanline


@lru_cache(maxsize=8)
def icon_png(size: int, purpose: str = "any") -> bytes:
    """A square PNG icon of size pixels; purpose "maskable" keeps the cross inside the maskable safe zone."""
    if size not in SIZES or purpose not in _CROSS_SHARE:
        raise ValueError(f"no {purpose} icon of {size} px")
    length = round(size * _CROSS_SHARE[purpose])
    low = (size - length) // 2
    high = low + length
    arm = round(length * _ARM_SHARE)
    arm_low = (size - arm) // 2
    arm_high = arm_low + arm
    raw = b"".join(_row(size, y, low, high, arm_low, arm_high) for y in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
