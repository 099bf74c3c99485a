"""Code 128 barcodes for specimen labels: the symbol values of a text, and the barcode drawn as SVG.

The symbol patterns, start and stop characters and the modulo-103 check character are those of the
published symbology specification (ISO/IEC 15417:2007, Code 128 bar code symbology specification).
Texts are encoded with code set B (printable ASCII), switching to code set C (two digits per symbol) for
runs of at least four digits, which keeps accession numbers like L26112600042 short on a small label.
"""

from html import escape

# Bar and space widths (in modules) of symbol values 0-106: bar, space, bar, space, bar, space[, bar].
# Values 103, 104 and 105 are Start A, B and C; 106 is the stop pattern (with its final bar).
PATTERNS = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
    "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
)
START_B, START_C, CODE_B, CODE_C, STOP = 104, 105, 100, 99, 106
QUIET_ZONE = 10  # modules of white either side, the minimum the specification asks for
MAX_TEXT = 40
_MIN_RUN = 4


class BarcodeError(ValueError):
    """A text that cannot be drawn as a Code 128 barcode here (empty, too long, not printable ASCII)."""


def _digit_run(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end].isdigit():
        end += 1
    return end - start


def symbol_values(text: str) -> list[int]:
    """The symbol values of text: start character, data (code sets B and C), check character and stop."""
    if not isinstance(text, str) or not 0 < len(text) <= MAX_TEXT:
        raise BarcodeError(f"a barcode text is 1 to {MAX_TEXT} characters")
    if any(not 32 <= ord(c) <= 126 for c in text):
        raise BarcodeError("a barcode text is printable ASCII letters, digits and signs")
    values: list[int] = []
    code_set = ""
    i = 0
    while i < len(text):
        run = _digit_run(text, i)
        if run >= _MIN_RUN:
            if code_set != "C":
                values.append(START_C if not values else CODE_C)
                code_set = "C"
            pairs = run - run % 2
            values.extend(int(text[j:j + 2]) for j in range(i, i + pairs, 2))
            i += pairs
            continue
        if code_set != "B":
            values.append(START_B if not values else CODE_B)
            code_set = "B"
        values.append(ord(text[i]) - 32)
        i += 1
    check = (values[0] + sum(position * value for position, value in enumerate(values[1:], start=1))) % 103
    return [*values, check, STOP]


def modules(text: str) -> str:
    """The barcode as a string of modules, '1' for bar and '0' for space, without the quiet zones."""
    out = []
    for value in symbol_values(text):
        for index, width in enumerate(PATTERNS[value]):
            out.append(("1" if index % 2 == 0 else "0") * int(width))
    return "".join(out)


def svg(text: str, *, module_width: float = 2.0, height: float = 60.0, caption: bool = True) -> str:
    """The barcode of text as a standalone SVG image, with the text printed below it when caption is True."""
    bars = modules(text)
    width = (len(bars) + 2 * QUIET_ZONE) * module_width
    total_height = height + (16 if caption else 0)
    rects = []
    x = 0
    while x < len(bars):
        if bars[x] == "1":
            end = bars.find("0", x) if bars.find("0", x) != -1 else len(bars)
            rects.append(f'<rect x="{(QUIET_ZONE + x) * module_width:g}" y="0" '
                         f'width="{(end - x) * module_width:g}" height="{height:g}"/>')
            x = end
        else:
            x += 1
    label = (f'<text x="{width / 2:g}" y="{height + 13:g}" text-anchor="middle" font-family="monospace" '
             f'font-size="12">{escape(text)}</text>') if caption else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{total_height:g}" '
            f'viewBox="0 0 {width:g} {total_height:g}" role="img" aria-label="{escape(text)}">'
            f'<rect width="100%" height="100%" fill="#fff"/><g fill="#000">{"".join(rects)}</g>{label}</svg>')
