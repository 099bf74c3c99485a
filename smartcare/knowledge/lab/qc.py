"""Westgard multirule quality control over a QC material's run history (Levey-Jennings), newest value last."""

from collections.abc import Sequence

from smartcare.knowledge.lab.model import WestgardViolation
from smartcare.knowledge.lab.ranges import finite

MAX_POINTS = 10_000
_TEXT = {
    "1-2s": ("The newest control is beyond 2 SD: inspect the run before accepting it.",
             "最新质控值超出 2SD：接受本批前请检查。"),
    "1-3s": ("The newest control is beyond 3 SD: reject the run (random error likely).",
             "最新质控值超出 3SD：拒绝本批（提示随机误差）。"),
    "2-2s": ("Two consecutive controls are beyond 2 SD on the same side: reject the run (systematic error).",
             "连续两个质控值在同侧超出 2SD：拒绝本批（提示系统误差）。"),
    "R-4s": ("One control is beyond +2 SD and the next beyond -2 SD: reject the run (random error).",
             "相邻两个质控值一个超出 +2SD、另一个超出 -2SD：拒绝本批（提示随机误差）。"),
    "4-1s": ("Four consecutive controls are beyond 1 SD on the same side: reject the run (systematic error).",
             "连续四个质控值在同侧超出 1SD：拒绝本批（提示系统误差）。"),
    "10x": ("Ten consecutive controls fall on the same side of the mean: reject the run (systematic shift).",
            "连续十个质控值落在均值同一侧：拒绝本批（提示系统性偏移）。"),
}


def _violation(rule: str, points: range) -> WestgardViolation:
    severity = "warning" if rule == "1-2s" else "reject"
    message_en, message_zh = _TEXT[rule]
    return WestgardViolation(rule=rule, severity=severity, points=tuple(points), message_en=message_en,
                             message_zh=message_zh)


def _same_side(scores: list[float], count: int, limit: float) -> bool:
    tail = scores[-count:]
    return len(tail) == count and (all(s > limit for s in tail) or all(s < -limit for s in tail))


def westgard(values: Sequence[float], *, mean: float, sd: float) -> list[WestgardViolation]:
    """The Westgard rules the newest QC value breaks, judged with the history before it (newest last).

    1-2s warns; 1-3s, 2-2s, R-4s, 4-1s and 10x reject. Each violation lists the indexes of the values
    involved. To mark a whole Levey-Jennings chart, call it on each prefix of the history.
    """
    mean, sd = finite(mean, "mean"), finite(sd, "sd")
    if sd <= 0:
        raise ValueError("sd must be above zero")
    if isinstance(values, str | bytes) or len(values) > MAX_POINTS:
        raise ValueError(f"values must be a sequence of at most {MAX_POINTS} numbers")
    scores = [(finite(value, "QC value") - mean) / sd for value in values]
    count = len(scores)
    if not count:
        return []
    found = []
    if abs(scores[-1]) > 2:
        found.append(_violation("1-2s", range(count - 1, count)))
    if abs(scores[-1]) > 3:
        found.append(_violation("1-3s", range(count - 1, count)))
    if _same_side(scores, 2, 2):
        found.append(_violation("2-2s", range(count - 2, count)))
    if count >= 2 and max(scores[-2:]) > 2 and min(scores[-2:]) < -2:
        found.append(_violation("R-4s", range(count - 2, count)))
    if _same_side(scores, 4, 1):
        found.append(_violation("4-1s", range(count - 4, count)))
    if _same_side(scores, 10, 0):
        found.append(_violation("10x", range(count - 10, count)))
    return found
