"""The core never imports Textual: every module of it, and a real headless command's run.

The list of modules is walked, not written down, so a module added tomorrow (or a Textual
import slipped into one that exists) is covered without touching this test. Each check runs
in a fresh interpreter: in this one, other tests have long since imported Textual.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from crewtui.sim import SimServer

# The packages below the UI, walked module by module, and the headless entry points.
CORE_PACKAGES = ("crewtui.api", "crewtui.core", "crewtui.sim")
CORE_MODULES = ("crewtui.cli", "crewtui.headless", "crewtui.serve", "crewtui.web", "crewtui.config")


def run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_no_module_of_the_core_imports_textual() -> None:
    result = run_python(
        f"""
        import importlib, pkgutil, sys
        names = list({CORE_MODULES!r})
        for package in {CORE_PACKAGES!r}:
            module = importlib.import_module(package)
            names += [
                info.name
                for info in pkgutil.walk_packages(module.__path__, package + ".")
                if not info.name.endswith(".__main__")  # running it is not importing it
            ]
        for name in names:
            importlib.import_module(name)
        print(len(names))
        loaded = sorted(name for name in sys.modules if name.split(".")[0] == "textual")
        sys.exit(f"textual loaded: {{loaded[:3]}}" if loaded else 0)
        """
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 25  # the walk found the modules, not an empty package


def crewtui_env(sim: SimServer, tmp_path: Path) -> dict[str, str]:
    """A bare environment for a crewtui child: this checkout, a home in ``tmp_path``, the
    simulator's research crew."""
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(__file__).parents[1]),
        "CREWTUI_HOME": str(tmp_path / "home"),
        "CREWAI_API_URL": sim.crew_url("research"),
        "CREWAI_BEARER_TOKEN": sim.options.token,
    }


def test_headless_commands_run_without_textual(sim: SimServer, tmp_path: Path) -> None:
    """``list --json``, ``inputs --json`` and ``doctor`` as ``crewtui`` runs them."""
    env = crewtui_env(sim, tmp_path)
    result = run_python(
        """
        import atexit, sys
        from crewtui.cli import main

        def report() -> None:
            loaded = sorted(name for name in sys.modules if name.split(".")[0] == "textual")
            sys.stderr.write(f"textual at exit: {loaded[:3]}\\n")

        atexit.register(report)
        codes = [main(argv) for argv in (["list", "--json"], ["inputs", "--json"], ["doctor"])]
        sys.exit(max(codes))
        """,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip().endswith("textual at exit: []"), result.stderr
