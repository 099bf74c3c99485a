"""Small charts drawn as inline SVG by the templates: a trend sparkline of results with their normal band."""

from typing import Any


def sparkline(points: list[tuple[str, float]], low: float | None, high: float | None, *, width: int = 140,
              height: int = 36, margin: int = 3) -> dict[str, Any] | None:
    """What a template needs to draw a trend of two or more results: the polyline's points, the last point,
    the normal band (low to high) when both are known, the size, and the text alternative ("day value, ...").

    None for fewer than two results. The vertical scale spans the values and the band together."""
    if len(points) < 2:
        return None
    values = [v for _, v in points] + [x for x in (low, high) if x is not None]
    top, bottom = max(values), min(values)
    span = (top - bottom) or 1.0

    def y(value: float) -> float:
        return round(height - margin - (value - bottom) / span * (height - 2 * margin), 1)

    step = (width - 2 * margin) / (len(points) - 1)
    dots = [{"x": round(margin + i * step, 1), "y": y(v)} for i, (_, v) in enumerate(points)]
    band = {"y": y(high), "height": round(y(low) - y(high), 1)} if low is not None and high is not None else None
    return {"points": " ".join(f"{d['x']},{d['y']}" for d in dots), "last": dots[-1], "band": band,
            "width": width, "height": height, "text": ", ".join(f"{day} {value:g}" for day, value in points)}
