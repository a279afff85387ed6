"""Every crewtui name is imported from the module that defines it: one name, one place.

A name that moved (the states and the list's rows out of ``api/models.py``, the tracker's
events out of ``core/tracker.py``) left a re-export behind, and imports through it kept the
old module in the picture: a reader looked for the name in the wrong file, and a module
that only needed a state loaded the wire models. The sources are read, not imported, so
tests and benchmarks (which mypy does not check) are held to it too. A package's
``__all__`` is what it offers on purpose (``crewtui.sim``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("crewtui", "tests", "bench")


def _source(module: str) -> Path | None:
    """The file of a crewtui module or package, if there is one."""
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _defined(source: Path) -> set[str]:
    """The names a module defines at its top level (under ``if`` and ``try`` too), and its
    ``__all__``; not the names it imports."""
    names: set[str] = set()

    def bind(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                bind(element)

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    bind(target)
                if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                    names.update(ast.literal_eval(node.value))
            elif isinstance(node, ast.AnnAssign | ast.AugAssign):
                bind(node.target)
            elif isinstance(node, ast.If):
                walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                walk(node.orelse)
                walk(node.finalbody)
                for handler in node.handlers:
                    walk(handler.body)

    walk(ast.parse(source.read_text()).body)
    return names


def test_every_crewtui_name_is_imported_from_where_it_is_defined() -> None:
    defined: dict[str, set[str]] = {}
    files = [path for top in CHECKED for path in sorted((ROOT / top).rglob("*.py"))]
    wrong: list[str] = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or node.level or node.module is None:
                continue
            if node.module.split(".")[0] != "crewtui":
                continue
            source = _source(node.module)
            assert source is not None, f"{path}:{node.lineno}: no module {node.module}"
            if node.module not in defined:
                defined[node.module] = _defined(source)
            for alias in node.names:
                name = alias.name
                if name in defined[node.module] or _source(f"{node.module}.{name}"):
                    continue
                wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}.{name}")
    assert len(files) > 200  # the walk found the sources
    assert not wrong, "imported through a module that does not define it:\n" + "\n".join(wrong)
