"""The house keeps its shape: the import graph has no cycles and keeps the layers; modules and functions
stay small enough to read (issue 11). Read from the source with `ast`, so nothing is imported."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sqlfront", "actors", "engine", "storage", "events")
# Which package may import which (besides itself). The SQL front talks to the actors; the actors run the
# pure core and use storage and the DuckDB engine; the engine reads tablets through storage; storage uses
# the core's codec and names; the core imports nothing of the shell.
MAY_IMPORT = {
    "sqlfront": {"actors", "engine", "storage", "events"},
    "actors": {"engine", "storage", "events"},
    "engine": {"storage", "events"},
    "storage": {"events"},
    "events": set(),
}
# Imports inside a function, on purpose and never to dodge a cycle: what a command or a backend needs only
# when it is used is not loaded by everyone (the CLI's `audit` does not start a server or load DuckDB; a
# local repository does not load minio or pyarrow's HDFS client).
LAZY_IMPORTS = {
    ("sqlfront.cli", "storage.audit"), ("sqlfront.cli", "sqlfront.daemon"), ("sqlfront.cli", "storage.eventlog"),
    ("storage.repo.factory", "storage.repo.s3"), ("storage.repo.factory", "storage.repo.hdfs"),
}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    tree: ast.Module


def modules() -> dict[str, Module]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = Module(name, path, ast.parse(path.read_text(), filename=str(path)))
    return out


def _imports(mod: Module, known: dict[str, Module]) -> Iterator[tuple[str, ast.stmt, bool]]:
    """(imported module of ours, the statement, whether it sits inside a function or method)."""
    package = mod.name if mod.path.name == "__init__.py" else mod.name.rpartition(".")[0]

    def visit(node: ast.AST, nested: bool) -> Iterator[tuple[str, ast.stmt, bool]]:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] in PACKAGES:
                        yield alias.name, child, nested
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                if base.split(".")[0] in PACKAGES:
                    for alias in child.names:
                        full = f"{base}.{alias.name}"
                        yield (full if full in known else base), child, nested
            else:
                yield from visit(child, inner)

    yield from visit(mod.tree, False)


def _is_type_checking_only(mod: Module, stmt: ast.stmt) -> bool:
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            if any(stmt is n for b in node.body for n in ast.walk(b)):
                return True
    return False


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    for mod in known.values():
        for target, stmt, _ in _imports(mod, known):
            if target in known and target != mod.name and not _is_type_checking_only(mod, stmt):
                edges[mod.name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_import_graph_has_no_cycles() -> None:
    assert cycles(graph()) == []


def test_the_layers_hold() -> None:
    breaks = sorted(f"{src} -> {dst}" for src, dsts in graph().items() for dst in dsts
                    if src.split(".")[0] != dst.split(".")[0]
                    and dst.split(".")[0] not in MAY_IMPORT[src.split(".")[0]])
    assert breaks == []


def test_no_import_inside_a_function_dodges_the_graph() -> None:
    known = modules()
    nested = sorted(f"{mod.name}:{stmt.lineno} imports {target}" for mod in known.values()
                    for target, stmt, inside in _imports(mod, known)
                    if inside and (mod.name, target) not in LAZY_IMPORTS)
    assert nested == []


def test_modules_stay_small() -> None:
    big = sorted(f"{m.name}: {len(m.path.read_text().splitlines())} lines" for m in modules().values()
                 if len(m.path.read_text().splitlines()) > MAX_MODULE_LINES)
    assert big == []


def test_functions_stay_short() -> None:
    long = sorted(f"{m.name}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
                  for m in modules().values() for node in ast.walk(m.tree)
                  if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None
                  and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES)
    assert long == []


def test_the_checker_sees_a_cycle_and_a_layer_break() -> None:
    """The checks can fail: a made-up graph with a cycle is found, the real graph has edges to check."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]
    edges = graph()
    assert any(dst.startswith("events") for dst in edges.get("actors.frontend", set()))
