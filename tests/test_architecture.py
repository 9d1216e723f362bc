"""The layer contract of docs/ARCHITECTURE.md, checked over the real import graph.

Every import statement counts, function-local ones included (they are most of prefchat's imports
today), so a lazy import cannot hide a layer break. The checker is plain `ast`: it runs on every
supported Python without a tool of its own, and the tests at the bottom run it on synthetic packages
and on a copy of prefchat with a planted violation, to show that it reports breaks."""

from __future__ import annotations

import ast
import shutil
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Top to bottom. A module may import from its own unit and from any unit in a lower layer; units in
# the same layer are independent. A unit is one or more module prefixes that form one concept.
LAYERS: list[list[tuple[str, ...]]] = [
    [("prefchat.cli", "prefchat.__main__")],
    [("prefchat.commands",)],
    # one module per benchmark: they drive chat sessions, live onboarding and the Textual ChatApp
    [("prefchat.bench",)],
    [("prefchat.tui",)],
    [("prefchat.chat",), ("prefchat.onboarding",)],
    [("prefchat.rerank",), ("prefchat.basis.evaluate",)],
    [("prefchat.config",)],  # validates `candidates` against generation's strategies; builds backends
    [("prefchat.generation",)],  # the guard, card and strategies every pick uses
    [("prefchat.profiles",), ("prefchat.basis",), ("prefchat.llm",)],
    [("prefchat.data",)],  # the corpus, simulated users and every dataset loader
    [("prefchat.reward",)],
    [("prefchat.paths",), ("prefchat.fileio",), ("prefchat.errors",), ("prefchat.textsafe",),
     ("prefchat.omp",), ("prefchat.keynames",), ("prefchat",)],
]
# Imports that are forbidden even though the layers would allow them.
FORBIDDEN = [
    ("prefchat.reward", "prefchat", ("prefchat.reward", "prefchat.errors")),  # reward is pure math
    ("prefchat.tui", "prefchat.llm", ()),  # the UI reaches models only through chat/
]


@dataclass
class Graph:
    modules: dict[str, Path] = field(default_factory=dict)
    edges: dict[str, dict[str, int]] = field(default_factory=dict)  # importer -> {imported: line}
    local: dict[str, dict[str, int]] = field(default_factory=dict)  # the function-local subset


def _module_name(pkg_root: Path, path: Path) -> str:
    parts = list(path.relative_to(pkg_root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def build_graph(pkg_root: Path) -> Graph:
    """The import graph of the package at pkg_root (a directory with __init__.py), internal edges only.

    `from a.b import c` is an edge to a.b.c when that is a module, else to a.b. The parent packages
    that Python also initialises are not edges: they are checked as modules of their own."""
    g = Graph()
    top = pkg_root.name
    for path in sorted(pkg_root.rglob("*.py")):
        g.modules[_module_name(pkg_root, path)] = path
    for name, path in g.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_pkg = path.name == "__init__.py"
        edges, local = g.edges.setdefault(name, {}), g.local.setdefault(name, {})

        def visit(node: ast.AST, in_function: bool) -> None:
            for child in ast.iter_child_nodes(node):
                nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                targets: list[str] = []
                if isinstance(child, ast.Import):
                    targets = [a.name for a in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                        anchor = anchor[: len(anchor) - (child.level - 1)]
                        base = ".".join(anchor + ([base] if base else []))
                    targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in g.modules else base for a in child.names]
                for t in targets:
                    if t == top or t.startswith(top + "."):
                        while t not in g.modules and "." in t:  # `import a.b.c` where c is a name
                            t = t.rsplit(".", 1)[0]
                        if t != name:
                            edges.setdefault(t, child.lineno)
                            if in_function:
                                local.setdefault(t, child.lineno)
                visit(child, nested)

        visit(tree, False)
    return g


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _unit_of(module: str, layers) -> tuple[int, int] | None:
    """(layer, unit) of the longest matching prefix; None when the module is placed nowhere. The
    top package's own name (no dot) matches only its __init__, so a new module is never placed by
    accident."""
    best, best_len = None, -1
    for li, layer in enumerate(layers):
        for ui, unit in enumerate(layer):
            for prefix in unit:
                hit = module == prefix if "." not in prefix else _under(module, prefix)
                if hit and len(prefix) > best_len:
                    best, best_len = (li, ui), len(prefix)
    return best


def check_contract(g: Graph, layers=LAYERS, forbidden=FORBIDDEN) -> list[str]:
    """Every broken rule as 'importer:line -> imported (why)'."""
    errors = []
    for mod in sorted(g.modules):
        if _unit_of(mod, layers) is None:
            errors.append(f"{mod}: placed in no layer (add it to LAYERS and docs/ARCHITECTURE.md)")
    for src in sorted(g.edges):
        s = _unit_of(src, layers)
        for dst, line in sorted(g.edges[src].items()):
            d = _unit_of(dst, layers)
            where = f"{src}:{line} -> {dst}"
            if s and d and s != d:
                if d[0] < s[0]:
                    errors.append(f"{where} (imports a higher layer)")
                elif d[0] == s[0]:
                    errors.append(f"{where} (units of one layer are independent)")
            for importer, banned, allowed in forbidden:
                if _under(src, importer) and _under(dst, banned) and not any(_under(dst, a) for a in allowed):
                    errors.append(f"{where} ({importer} may not import {banned})")
    return errors


def find_cycles(g: Graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.edges.get(v, {}):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g.modules):
        if v not in index:
            strong(v)
    return out


# -- the real package ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graph() -> Graph:
    return build_graph(ROOT / "prefchat")


def test_layer_contract(graph):
    errors = check_contract(graph)
    assert not errors, "layer contract broken:\n" + "\n".join(errors)


def test_no_import_cycles(graph):
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_reward_is_pure(graph):
    """Stated on its own because it is the rule people rely on most: reward/ is math."""
    bad = {f"{s} -> {d}" for s, ds in graph.edges.items() if s.startswith("prefchat.reward")
           for d in ds if not (d.startswith("prefchat.reward") or d == "prefchat.errors")}
    assert not bad, bad


def test_modules_stay_small():
    """Every module stays under 400 lines, with no exceptions."""
    big = {str(p.relative_to(ROOT)): n for p in (ROOT / "prefchat").rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) >= 400}
    assert not big, f"modules of 400 lines or more: {big}"


# -- the checker reports breaks -----------------------------------------------------------------------

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, src in files.items():
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(textwrap.dedent(src))
    return tmp_path / "pkg"


TOY_LAYERS = [[("pkg.ui",)], [("pkg.a",), ("pkg.b",)], [("pkg.core",), ("pkg",)]]
TOY_FORBIDDEN = [("pkg.core", "pkg", ("pkg.core",)), ("pkg.ui", "pkg.b", ())]


def test_checker_reports_upward_sibling_forbidden_and_local_imports(tmp_path):
    root = _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/ui.py": "import pkg.a\n",
        "pkg/a.py": "from pkg import core\n",
        "pkg/b.py": "def f():\n    from pkg.a import x\n",          # sibling, inside a function
        "pkg/core/__init__.py": "",
        "pkg/core/m.py": "def g():\n    from ..ui import thing\n",  # upward and forbidden, relative
        "pkg/stray.py": "",
    })
    errors = check_contract(build_graph(root), TOY_LAYERS, TOY_FORBIDDEN)
    joined = "\n".join(errors)
    assert "pkg.b:2 -> pkg.a (units of one layer are independent)" in joined
    assert "pkg.core.m:2 -> pkg.ui (imports a higher layer)" in joined
    assert "pkg.core.m:2 -> pkg.ui (pkg.core may not import pkg)" in joined
    assert "pkg.stray: placed in no layer" in joined
    assert not any(e.startswith(("pkg.ui:", "pkg.a:")) for e in errors), errors  # allowed edges pass


def test_checker_reports_a_forbidden_downward_import(tmp_path):
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/ui.py": "import pkg.b.x as y\n",
                               "pkg/b/__init__.py": "", "pkg/b/x.py": "", "pkg/a.py": "", "pkg/core.py": ""})
    assert check_contract(build_graph(root), TOY_LAYERS, TOY_FORBIDDEN) == [
        "pkg.ui:1 -> pkg.b.x (pkg.ui may not import pkg.b)"]


def test_cycle_finder_sees_function_local_cycles(tmp_path):
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "import pkg.b\n",
                               "pkg/b.py": "def f():\n    import pkg.c\n", "pkg/c.py": "from pkg import a\n",
                               "pkg/d.py": "import pkg.a\n"})
    assert find_cycles(build_graph(root)) == [["pkg.a", "pkg.b", "pkg.c"]]


def test_a_planted_violation_in_a_copy_of_prefchat_is_reported(tmp_path):
    """The real contract on a copy of the real package, plus one bad module: exactly it is reported."""
    copy = tmp_path / "prefchat"
    shutil.copytree(ROOT / "prefchat", copy, ignore=shutil.ignore_patterns("__pycache__", "*.jsonl", "*.json"))
    assert check_contract(build_graph(copy)) == check_contract(build_graph(ROOT / "prefchat"))
    (copy / "reward" / "planted.py").write_text("def f():\n    from prefchat.tui import chat_app\n")
    (copy / "tui" / "planted.py").write_text("from prefchat.llm.base import Cancelled\n")
    new = set(check_contract(build_graph(copy))) - set(check_contract(build_graph(ROOT / "prefchat")))
    assert new == {
        "prefchat.reward.planted:2 -> prefchat.tui.chat_app (imports a higher layer)",
        "prefchat.reward.planted:2 -> prefchat.tui.chat_app (prefchat.reward may not import prefchat)",
        "prefchat.tui.planted:1 -> prefchat.llm.base (prefchat.tui may not import prefchat.llm)",
    }


# -- pending until phase 2 ----------------------------------------------------------------------------

HEAVY = {"torch", "transformers", "llama_cpp", "openai", "matplotlib", "safetensors", "peft", "gguf", "textual",
         "tokenizers", "huggingface_hub"}


def _imports(path: Path) -> tuple[set[str], set[tuple[int, str]]]:
    """(top-level imported module names, {(line, name)} of function-local ones), absolute names only."""
    top, local = set(), set()

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and not child.level and child.module:
                names = [f"{child.module}.{a.name}" for a in child.names]  # resolved to a module below
            for n in names:
                (local.add((child.lineno, n)) if in_function else top.add(n))
            visit(child, nested)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return top, local


def _excused_lines(path: Path) -> set[int]:
    """Lines of function-local imports that carry their reason: inside a `try` (an optional module or
    platform, or a failure the caller reports), or under a comment that starts with "# Local:"."""
    src = path.read_text(encoding="utf-8")
    lines = src.splitlines()
    out = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Try):
            out |= {n.lineno for b in node.body for n in ast.walk(b) if isinstance(n, (ast.Import, ast.ImportFrom))}
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            above = node.lineno - 2  # the comment may head a run of imports
            while above >= 0 and lines[above].lstrip().startswith(("#", "from ", "import ")):
                if lines[above].lstrip().startswith("# Local:"):
                    out.add(node.lineno)
                above -= 1
    return out


def lazy_imports_without_reason(pkg_root: Path) -> list[str]:
    """Function-local imports that are not of a heavy library, nor of a prefchat module that loads one
    when imported (directly or through its own top-level imports)."""
    g = build_graph(pkg_root)
    tops = {m: _imports(p)[0] for m, p in g.modules.items()}
    heavy: dict[str, bool] = {}

    def resolve(name: str) -> str:
        while name not in g.modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    def is_heavy(mod: str, seen=()) -> bool:
        if mod not in heavy:
            names = tops.get(mod, set())
            heavy[mod] = any(n.split(".")[0] in HEAVY for n in names) or any(
                is_heavy(m, seen + (mod,)) for m in map(resolve, names) if m in g.modules and m not in seen)
        return heavy[mod]

    out = []
    for mod, path in sorted(g.modules.items()):
        if mod == "prefchat.cli":  # lazy command registration keeps `prefchat --help` fast
            continue
        excused = _excused_lines(path)
        for line, name in sorted(_imports(path)[1]):
            if line in excused:
                continue
            target = resolve(name)
            if name.split(".")[0] in HEAVY or (target in g.modules and is_heavy(target)):
                continue
            out.append(f"{mod}:{line} {target if target in g.modules else name}")
    return out


def test_imports_are_at_the_top_unless_heavy():
    lazy = lazy_imports_without_reason(ROOT / "prefchat")
    assert not lazy, f"{len(lazy)} function-local imports with no heavy reason:\n" + "\n".join(lazy)


def test_the_lazy_import_check_tells_heavy_from_light(tmp_path):
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/heavy.py": "import torch\n",
                               "pkg/via.py": "from pkg import heavy\n",
                               "pkg/ui.py": "def f():\n    import json\n    from pkg import via\n    import torch\n"
                                            "    from pkg import light\n",
                               "pkg/light.py": ""})
    assert lazy_imports_without_reason(root) == ["pkg.ui:2 json", "pkg.ui:5 pkg.light"]
    # an import that states its reason is not listed: guarded by try, or under a "# Local:" comment
    # (the run of imports below it included); an ordinary comment is no reason
    (root / "ui.py").write_text("def f():\n    try:\n        import fcntl\n    except ImportError:\n"
                                "        pass\n    # Local: a cycle through package inits\n"
                                "    from pkg import light\n    import json\n    x = 1\n    # just a note\n"
                                "    import csv\n")
    assert lazy_imports_without_reason(root) == ["pkg.ui:11 csv"]
