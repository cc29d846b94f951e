"""Import rules, checked on every module's syntax tree (lazy imports inside functions count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import music_reclass_gui

PACKAGE_DIR = Path(music_reclass_gui.__file__).resolve().parent
PACKAGE = PACKAGE_DIR.name


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, source: str | None = None) -> set[str]:
    """Absolute names of everything the module imports (relative imports resolved)."""
    if source is None:
        source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def _modules() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _uses(imports: set[str], top: str) -> bool:
    return any(name == top or name.startswith(top + ".") for name in imports)


def _in(module: str, sub: str) -> bool:
    return module == f"{PACKAGE}.{sub}" or module.startswith(f"{PACKAGE}.{sub}.")


def test_the_rule_sees_imports():
    modules = _modules()
    assert f"{PACKAGE}.core.audio" in modules and "numpy" in modules[f"{PACKAGE}.core.audio"]
    assert len(modules) >= 10


def test_only_ui_imports_pyside6():
    offenders = {m: sorted(i for i in imps if i.startswith("PySide6")) for m, imps in _modules().items()}
    offenders = {m: i for m, i in offenders.items() if i and not _in(m, "ui")}
    assert offenders == {}, "PySide6 may only be imported under music_reclass_gui/ui/"


def test_core_imports_neither_torch_nor_qt():
    bad = {
        m: sorted(i for i in imps if _uses({i}, "torch") or _uses({i}, "PySide6"))
        for m, imps in _modules().items()
        if _in(m, "core")
    }
    assert {m: i for m, i in bad.items() if i} == {}


def test_imports_only_go_downward():
    """ui/cli -> training -> inference -> core: a lower layer never imports a higher one."""
    higher = {
        "core": ("inference", "training", "cli", "ui"),
        "inference": ("training", "cli", "ui"),
        "training": ("cli", "ui"),
    }
    bad = {}
    for module, imps in _modules().items():
        for layer, forbidden in higher.items():
            if _in(module, layer):
                hits = sorted(i for i in imps for f in forbidden if _uses({i}, f"{PACKAGE}.{f}"))
                if hits:
                    bad[module] = hits
    assert bad == {}


def test_the_rule_catches_lazy_and_relative_imports():
    source = (
        "def later():\n"
        "    import torch\n"
        "    from PySide6 import QtCore\n"
        "    from ..ui import app\n"
        "    import importlib; importlib.import_module('PySide6.QtWidgets')\n"
    )
    found = _imports(PACKAGE_DIR / "core" / "probe.py", source)  # parsed as if it lived in core/
    assert {"torch", "PySide6.QtCore", f"{PACKAGE}.ui.app", "PySide6.QtWidgets"} <= found


def test_only_server_imports_web_frameworks():
    """fastapi/starlette/uvicorn are an optional extra: nothing outside server/ may need them (the CLI's
    `serve` imports the server package lazily, inside its function)."""
    web = ("fastapi", "starlette", "uvicorn")
    offenders = {
        m: sorted(i for i in imps if any(_uses({i}, w) for w in web))
        for m, imps in _modules().items()
        if not _in(m, "server")
    }
    assert {m: i for m, i in offenders.items() if i} == {}


def test_lower_layers_do_not_import_the_server():
    bad = {
        m: sorted(i for i in imps if _uses({i}, f"{PACKAGE}.server"))
        for m, imps in _modules().items()
        if _in(m, "core") or _in(m, "inference") or _in(m, "training") or _in(m, "ui")
    }
    assert {m: i for m, i in bad.items() if i} == {}


def test_server_and_stream_import_no_qt():
    bad = {
        m: sorted(i for i in imps if _uses({i}, "PySide6"))
        for m, imps in _modules().items()
        if _in(m, "server") or m == f"{PACKAGE}.inference.stream" or m == f"{PACKAGE}.cli.listen_cmd"
    }
    assert {m: i for m, i in bad.items() if i} == {}


def test_only_cluster_imports_ray():
    """Ray (the scale-out engine) stays in music_reclass_gui/cluster/; the rest of the app runs without it."""
    offenders = {m: sorted(i for i in imps if _uses({i}, "ray")) for m, imps in _modules().items()}
    offenders = {m: i for m, i in offenders.items() if i and not _in(m, "cluster")}
    assert offenders == {}, "ray may only be imported under music_reclass_gui/cluster/"


def test_cluster_is_imported_only_by_the_cli_and_pyarrow_only_by_cluster():
    bad = {}
    for module, imps in _modules().items():
        uses_cluster = _uses(imps, f"{PACKAGE}.cluster")
        if uses_cluster and not (_in(module, "cli") or _in(module, "cluster")):
            bad[module] = "imports cluster"
        if _uses(imps, "pyarrow") and not _in(module, "cluster"):
            bad[module] = "imports pyarrow"
    assert bad == {}


def test_tests_never_skip_a_required_dependency():
    """PySide6, torch, mutagen and the package itself are required: a test that `importorskip`s them would
    pass green on a broken install, and a skip that says "not implemented yet" hides a missing feature."""
    import re

    required = ("PySide6", "torch", "mutagen", "numpy", "soundfile", PACKAGE)
    here = Path(__file__).resolve().parent
    bad = []
    for test in sorted(here.glob("test_*.py")):
        text = test.read_text(encoding="utf-8")
        for name in re.findall(r"importorskip\(\s*[\"']([\w.]+)[\"']", text):
            if name.split(".")[0] in required:
                bad.append(f"{test.name}: importorskip({name!r})")
        if re.search(r"skip\([^)]*not implemented", text):
            bad.append(f"{test.name}: a skip for something not implemented")
    assert bad == []
