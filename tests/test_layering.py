"""The package's import graph has no cycles, and the lower layers never reach up.

Why: an import cycle means two modules are really one (neither can be read, tested or changed
alone), and it breaks at import time as soon as someone moves an import to the top of a file.
The graph is read from the source with `ast`, so it sees every import: module-level ones,
those inside functions, and those under `if TYPE_CHECKING:` (an annotation-only import is
still a dependency on the layer it names; a Protocol in the lower layer expresses it instead).
Imports by dotted name at run time (``importlib``, traitlets' ``DottedObjectName``) are not
edges: they are how an upper layer plugs into a lower one (``COMMAND_MODULES``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "aiikernel"
PACKAGE_DIR = Path(__file__).resolve().parent.parent / PACKAGE

# The layers, bottom to top: (name, module patterns, layers it sits directly on).
# A module may import its own layer and every layer below it (following "sits on"
# transitively), nothing else. docs/development.md ("Layers") describes the same table.
# A pattern is a module name, or "pkg.*" for every module inside pkg; the most specific wins.
LAYERS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("base", ("aiikernel.version", "aiikernel.commands"), ()),
    (
        "models and checkpoints",
        ("aiikernel.lm", "aiikernel.lm.*", "aiikernel.checkpoints", "aiikernel.checkpoints.*"),
        ("base",),
    ),
    (
        "model gateway",
        ("aiikernel.gateway", "aiikernel.gateway.*"),
        ("models and checkpoints",),
    ),
    (
        "turn",
        ("aiikernel.turn", "aiikernel.turn.*", "aiikernel.cell_output"),
        ("models and checkpoints",),
    ),
    ("session", ("aiikernel.session",), ("turn",)),
    (
        "fronts",
        (
            "aiikernel.builtin_commands",
            "aiikernel.magics",
            "aiikernel.magic_lines",
            "aiikernel.chat",
            "aiikernel.chat.*",
            "aiikernel.subagents",
            "aiikernel.subagents.*",
        ),
        ("session",),
    ),
    ("aimax core", ("aiikernel.aimax.*",), ("base",)),
    ("aimax manager", ("aiikernel.aimax.manager",), ("aimax core",)),
    (
        "aimax cli",
        ("aiikernel.aimax", "aiikernel.aimax.cli", "aiikernel.aimax.__main__"),
        ("aimax manager",),
    ),
    ("server core", ("aiikernel.server.*",), ("aimax manager",)),
    (
        "server app",
        ("aiikernel.server", "aiikernel.server.app", "aiikernel.server.routes"),
        ("server core", "model gateway"),
    ),
    (
        "entry points",
        (
            "aiikernel",
            "aiikernel.kernel",
            "aiikernel.kernelspec",
            "aiikernel.__main__",
            # the sub-agent template process: it forks children that run the kernel
            "aiikernel.subagents.template",
            "aiikernel.subagents.template_loop",
            "aiikernel.subagents.forked",
        ),
        ("fronts", "model gateway", "server app", "aimax cli"),
    ),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if "labextension" in path.parts or "node_modules" in path.parts:
            continue
        modules[module_name(path)] = path
    return modules


def imports_of(path: Path, name: str, modules: set[str]) -> dict[str, int]:
    """The package modules this module imports (target -> first line), wherever the import is."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own_package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: dict[str, int] = {}

    def add(target: str, line: int) -> None:
        if target in modules and target != name:
            found[target] = min(line, found.get(target, line))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = own_package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                # `from pkg import sub` depends on the submodule when there is one,
                # otherwise on what pkg/__init__.py defines or re-exports
                submodule = f"{base}.{alias.name}"
                add(submodule if submodule in modules else base, node.lineno)
    return found


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: line of the import}."""
    modules = package_modules()
    names = set(modules)
    return {name: imports_of(path, name, names) for name, path in modules.items()}


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
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
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def a_cycle(graph: dict[str, dict[str, int]], component: list[str], start: str) -> list[str]:
    """The shortest cycle through ``start`` inside the component (BFS)."""
    members = set(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph[node]):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    return component


def describe_cycle(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    return "\n".join(
        f"    {importer} -> {imported}  (line {graph[importer][imported]})"
        for importer, imported in zip(cycle, cycle[1:], strict=False)
    )


def test_the_package_has_no_import_cycles():
    graph = import_graph()
    components = [c for c in strongly_connected(graph) if len(c) > 1]
    report = []
    for component in components:
        report.append(f"cycle among {len(component)} modules: {', '.join(component)}")
        covered: set[str] = set()
        for start in component:  # enough cycles to show how every member takes part
            if start not in covered:
                cycle = a_cycle(graph, component, start)
                covered.update(cycle)
                report.append(describe_cycle(graph, cycle))
    assert not components, "import cycles:\n" + "\n".join(report)


def layer_of(module: str) -> str | None:
    """The layer whose most specific pattern matches ``module``."""
    best: tuple[int, str] | None = None
    for name, patterns, _ in LAYERS:
        for pattern in patterns:
            if pattern.endswith(".*"):
                matches = module.startswith(pattern[:-1])
            else:
                matches = module == pattern
            if matches and (best is None or len(pattern) > best[0]):
                best = (len(pattern), name)
    return best[1] if best else None


def importable_layers() -> dict[str, set[str]]:
    """Each layer: itself and every layer it sits on, directly or not."""
    below = {name: set(sits_on) for name, _, sits_on in LAYERS}
    reach: dict[str, set[str]] = {}
    for name in below:
        seen, todo = {name}, list(below[name])
        while todo:
            layer = todo.pop()
            if layer not in seen:
                seen.add(layer)
                todo.extend(below[layer])
        reach[name] = seen
    return reach


def layer_violations(graph: dict[str, dict[str, int]]) -> list[str]:
    allowed = importable_layers()
    problems = [f"{m} is in no layer: add it to LAYERS" for m in graph if layer_of(m) is None]
    for importer, targets in sorted(graph.items()):
        own = layer_of(importer)
        for imported, line in sorted(targets.items()):
            theirs = layer_of(imported)
            if own and theirs and theirs not in allowed[own]:
                problems.append(f"{importer} ({own}) imports {imported} ({theirs}) at line {line}")
    return problems


def test_lower_layers_do_not_import_upper_layers():
    problems = layer_violations(import_graph())
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_the_layer_check_catches_an_upward_import():
    graph = {
        "aiikernel.lm.usage": {"aiikernel.session": 15},
        "aiikernel.aimax.tmux": {"aiikernel.server.app": 3},
        "aiikernel.session": {"aiikernel.lm.usage": 90},
        "aiikernel.stray": {},
    }
    assert layer_violations(graph) == [
        "aiikernel.stray is in no layer: add it to LAYERS",
        "aiikernel.aimax.tmux (aimax core) imports aiikernel.server.app (server app) at line 3",
        "aiikernel.lm.usage (models and checkpoints) imports aiikernel.session (session) at line 15",
    ]


def test_the_graph_sees_relative_local_and_type_checking_imports(tmp_path):
    """The checker itself must find a known cycle, or a green run proves nothing."""
    source = {
        "a": "from .b import thing\n",
        "b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .c import C\n",
        "c": "def f():\n    import aiikernel.fake.d\n",
        "d": "from ..fake import a\n",
    }
    names = {f"{PACKAGE}.fake.{n}" for n in source}
    graph = {}
    for n, text in source.items():
        path = tmp_path / f"{n}.py"
        path.write_text(text)
        graph[f"{PACKAGE}.fake.{n}"] = imports_of(path, f"{PACKAGE}.fake.{n}", names)
    cycles = [c for c in strongly_connected(graph) if len(c) > 1]
    assert cycles == [sorted(names)]
    assert a_cycle(graph, cycles[0], f"{PACKAGE}.fake.a") == [
        f"{PACKAGE}.fake.{n}" for n in "abcda"
    ]
