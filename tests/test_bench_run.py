"""``bench/run.py``, the benchmark harness, as CI can afford to check it: its contract, not
the numbers (they depend on the machine, and CI asserts nothing about time).

Two tiny families stand in for the real ones (which take minutes): one that reports a met
and a missed target, one that crashes. run.py must run each in its own process, print one
table, write the JSON results with the machine, and exit non-zero only for the crash.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).parents[1] / "bench" / "run.py"

TINY = """
import json, sys
quick = "--quick" in sys.argv
rows = [
    {"measure": "tiny met", "value": 1.0, "unit": "ms", "target": "<= 1.3x",
     "passed": True, "floor": 1.0, "ratio": 1.0, "note": ""},
    {"measure": "tiny missed", "value": 3.0, "unit": "ms", "target": "<= 1.3x",
     "passed": False, "floor": 1.0, "ratio": 3.0, "note": "quick" if quick else "full"},
]
print("progress goes to stderr", file=sys.stderr)
print("a line before the rows")
print(json.dumps({"family": "tiny", "machine": "test", "rows": rows}))
"""


def run_harness(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUN), "--quick", "--dir", str(directory), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_prints_one_table_writes_results_and_fails_only_on_a_crash(tmp_path: Path) -> None:
    (tmp_path / "bench_tiny.py").write_text(TINY)
    (tmp_path / "bench_broken.py").write_text("raise SystemExit('no rows today')\n")
    results = tmp_path / "results.json"

    done = run_harness(tmp_path, "--results", str(results))

    assert done.returncode == 1, done.stderr  # the broken family crashed
    table = done.stdout
    assert "| broken | CRASHED: exited with 1 |" in table
    assert "| tiny | tiny met | 1 ms | 1 ms | 1.00x | <= 1.3x | ok |" in table
    assert "| tiny | tiny missed | 3 ms | 1 ms | 3.00x | <= 1.3x | FAIL |" in table
    written = json.loads(results.read_text())
    assert written["quick"] is True and written["machine"]
    assert written["families"]["broken"]["error"] == "exited with 1"
    rows = written["families"]["tiny"]["rows"]
    assert [row["measure"] for row in rows] == ["tiny met", "tiny missed"]
    assert rows[1]["note"] == "quick"


def test_a_missed_target_alone_exits_zero(tmp_path: Path) -> None:
    (tmp_path / "bench_tiny.py").write_text(TINY)

    done = run_harness(tmp_path, "--only", "tiny", "--results", str(tmp_path / "r.json"))

    assert done.returncode == 0, done.stderr
    assert "FAIL" in done.stdout
