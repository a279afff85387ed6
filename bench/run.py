"""Run every benchmark family, print one table and write ``bench/results.json``.

A family is a script ``bench/bench_<family>.py`` (see ``common.py``): each runs in its own
process, so one family's imports, threads and memory never colour another's numbers, and
its last line of standard output is the JSON of its rows. Every figure is a ratio to a
floor measured by the same family in the same run, so the table holds on a busy machine.

    python bench/run.py                 # every family, full runs (a few minutes each)
    python bench/run.py --quick         # every family, small runs: under 3 minutes in all
    python bench/run.py --only start --only memory

The exit code is 0 when every family ran, even if a target was missed (its row says FAIL):
a benchmark reports, it does not judge. It is 1 when a family crashed, timed out or printed
no rows, since then the table is incomplete.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import machine

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results.json"
# Each family's own budget: --quick must stay under 35 s, a full run a few minutes.
TIMEOUT = {"quick": 90.0, "full": 900.0}
COLUMNS = ("family", "measure", "value", "floor", "ratio", "target", "pass")


@dataclass
class Outcome:
    """What one family's process gave: its rows, or why there are none."""

    family: str
    seconds: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def families(only: Sequence[str], directory: Path = BENCH_DIR) -> list[str]:
    """The families present in ``directory`` (``bench_<family>.py``), or the ones asked for."""
    present = sorted(path.stem.removeprefix("bench_") for path in directory.glob("bench_*.py"))
    if not only:
        return present
    unknown = [name for name in only if name not in present]
    if unknown:
        raise SystemExit(
            f"run.py: no family {', '.join(unknown)} in bench/ (there are: {', '.join(present)})"
        )
    return [name for name in present if name in only]


def run_family(family: str, *, quick: bool, directory: Path = BENCH_DIR) -> Outcome:
    """Run ``bench_<family>.py`` in its own interpreter; its stderr passes through."""
    command = [sys.executable, str(directory / f"bench_{family}.py")]
    if quick:
        command.append("--quick")
    timeout = TIMEOUT["quick" if quick else "full"]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            cwd=BENCH_DIR.parent,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(family, time.monotonic() - started, error=f"timed out after {timeout:.0f} s")
    seconds = time.monotonic() - started
    if done.returncode != 0:
        return Outcome(family, seconds, error=f"exited with {done.returncode}")
    return parse_rows(family, seconds, done.stdout)


def parse_rows(family: str, seconds: float, stdout: str) -> Outcome:
    """The rows of the JSON object on the last non-empty line of ``stdout``."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        emitted = json.loads(lines[-1])
        rows = emitted["rows"]
    except (IndexError, ValueError, KeyError, TypeError):
        return Outcome(family, seconds, error="printed no rows (its last line is not the JSON)")
    if not isinstance(rows, list) or not rows:
        return Outcome(family, seconds, error="printed an empty list of rows")
    return Outcome(family, seconds, rows=rows)


def number(value: Any, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{value:.3g}" if isinstance(value, float) and abs(value) < 1000 else f"{value:,.0f}"
    return f"{text} {unit}".strip()


def verdict(passed: bool | None) -> str:
    return {True: "ok", False: "FAIL", None: "info"}[passed]


def table(outcomes: Sequence[Outcome]) -> str:
    """One Markdown table of every row of every family (a crashed family gets one line)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for outcome in outcomes:
        if outcome.error is not None:
            lines.append(f"| {outcome.family} | CRASHED: {outcome.error} | | | | | |")
            continue
        for row in outcome.rows:
            unit = row.get("unit", "")
            ratio = row.get("ratio")
            cells = [
                outcome.family,
                str(row["measure"]),
                number(row["value"], unit),
                number(row.get("floor"), unit),
                f"{ratio:.2f}x" if ratio is not None else "",
                str(row.get("target", "")),
                verdict(row.get("passed")),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_results(outcomes: Sequence[Outcome], *, quick: bool, path: Path = RESULTS) -> None:
    results = {
        "machine": machine(),
        "quick": quick,
        "families": {
            outcome.family: {
                "seconds": round(outcome.seconds, 1),
                "error": outcome.error,
                "rows": outcome.rows,
            }
            for outcome in outcomes
        },
    }
    path.write_text(json.dumps(results, indent=2) + "\n")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small runs (under 3 minutes)")
    parser.add_argument(
        "--only", action="append", default=[], metavar="FAMILY", help="run this family (repeat)"
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="where to write the JSON results"
    )
    parser.add_argument(
        "--dir", type=Path, default=BENCH_DIR, help="where the families are (default: bench/)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    outcomes = []
    for family in families(options.only, options.dir):
        print(f"== {family}", file=sys.stderr, flush=True)
        outcome = run_family(family, quick=options.quick, directory=options.dir)
        print(f"== {family}: {outcome.error or 'done'} in {outcome.seconds:.0f} s", file=sys.stderr)
        outcomes.append(outcome)
    write_results(outcomes, quick=options.quick, path=options.results)
    print(table(outcomes))
    print(f"\nMachine: {machine()}")
    return 1 if any(outcome.error is not None for outcome in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
