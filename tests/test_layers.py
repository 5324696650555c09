"""The floors of docs/architecture.md, as the code has them: no room imports one above it.

Every ``acts_gnn`` import counts, those inside functions and under ``TYPE_CHECKING`` too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "acts_gnn"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"

#: room → floor, as the table of docs/architecture.md says
FLOORS = {
    "errors": 0,
    "_extras": 0,
    "event": 0,
    "result": 0,
    "cpus": 0,
    "interrupts": 0,
    "simd": 0,
    "finders": 0,
    "io": 1,
    "cuda": 2,
    "metrics": 2,
    "gnn": 3,
    "classical": 3,
    "reco": 4,
    "triton": 4,
    "acts": 5,
    "bench": 5,
    "api": 5,
    "cli": 6,
}
#: rooms on one floor that must not import each other
APART = [("reco", "triton"), ("acts", "bench"), ("cuda", "metrics"), ("gnn", "classical")]


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "acts_gnn" and len(parts) > 1 else None


def _imports() -> set[tuple[str, str, str]]:
    """(importing room, imported room, file) for every import between rooms."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        room = relative.parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                target = _room(name)
                if target is not None and target != room:
                    found.add((room, target, str(relative)))
    return found


def test_every_room_has_a_floor():
    rooms = {p.name.removesuffix(".py") for p in PACKAGE.iterdir()}
    rooms -= {"__init__", "__pycache__", "data", "py.typed"}
    assert rooms == set(FLOORS)


def test_no_import_goes_up_or_sideways():
    wrong = [
        f"{where}: {room} (floor {FLOORS[room]}) imports {target} (floor {FLOORS[target]})"
        for room, target, where in _imports()
        if FLOORS[target] > FLOORS[room] or (room, target) in APART or (target, room) in APART
    ]
    assert wrong == []


def test_the_architecture_page_shows_these_floors():
    text = ARCHITECTURE.read_text()
    for room, floor in FLOORS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| {floor} |"))
        assert f"`{room}`" in row, (room, floor)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_imports() -> dict[str, set[tuple[str, str]]]:
    """module → {(imported module, name or "")} for every ``acts_gnn`` import it makes."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    found: dict[str, set[tuple[str, str]]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] != "acts_gnn":
                    continue
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    if submodule in modules:
                        found[module].add((submodule, ""))
                    else:
                        found[module].add((node.module, alias.name))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "acts_gnn":
                        found[module].add((alias.name, ""))
    return found


def test_no_module_imports_itself_through_others():
    graph = {m: {t for t, _ in targets if t != m} for m, targets in _module_imports().items()}
    cycles = []
    # Tarjan's strongly connected components: a component of two or more modules is a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert cycles == []


def test_no_private_name_crosses_a_module():
    """``_name`` stays in its module; a private module (``cli/_console.py``) in its package."""
    wrong = []
    for module, targets in _module_imports().items():
        for target, name in targets:
            if name.startswith("_") and target != module:
                wrong.append(f"{module} imports {name} from {target}")
            parts = target.split(".")
            for depth, part in enumerate(parts):
                if part.startswith("_") and depth > 0:
                    package = ".".join(parts[:depth])
                    if not (module == package or module.startswith(package + ".")):
                        wrong.append(f"{module} imports the private module {target}")
    assert wrong == []


def test_cli_functions_are_thin():
    """No function body in ``acts_gnn/cli/`` is longer than 40 lines (docstring and typer's
    option signature aside): the commands build a request and make one library call."""
    long = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body
                docstring = (
                    isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)
                )
                first = body[1] if docstring and len(body) > 1 else body[0]
                lines = node.end_lineno - first.lineno + 1
                if lines > 40:
                    long.append(f"{path.name}:{node.name} has {lines} lines")
    assert long == []
