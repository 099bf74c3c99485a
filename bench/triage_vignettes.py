"""The triage vignette suite: confusion matrix (expected x got), level agreement, under-triage and mismatches.

    .venv/bin/python bench/triage_vignettes.py [--path tests/knowledge/triage/vignettes.yaml]

The sets: vignettes.yaml (the engine author's teaching cases, tuned on), holdout.yaml (written independently,
then used to fix the engine's causes of failure) and holdout_final.yaml (written independently and run once,
untuned: the honest figure).
"""

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from smartcare.knowledge.triage import assess  # noqa: E402
from tests.knowledge.triage.vignette_sets import has_chinese, matrix, presentation  # noqa: E402


def run(path: Path) -> list[tuple[dict, str]]:
    """Each vignette with the level the engine gave it."""
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [(c, assess(presentation(c)).level) for c in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=ROOT / "tests/knowledge/triage/vignettes.yaml")
    results = run(parser.parse_args().path)
    print(matrix(results))
    agree = sum(1 for c, got in results if c["expected"] == got)
    under = [c["id"] for c, got in results if c["expected"] == "emergency" and got != "emergency"]
    zh = sum(1 for c, _ in results if has_chinese(c["text"]))
    print(f"\n{len(results)} vignettes ({zh} Chinese); agreement {agree}/{len(results)} = {agree / len(results):.1%}")
    print(f"emergencies under-triaged: {len(under)} {under}")
    print("\nmismatches:")
    for c, got in results:
        if c["expected"] != got:
            print(f"  {c['id']}: expected {c['expected']}, got {got}: {c['text']}")


if __name__ == "__main__":
    main()
