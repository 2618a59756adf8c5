"""coursekit's imports run one way: no circle, and each layer imports only its own and lower ones.

The graph is read from the source (``ast``), every ``import`` counted wherever it stands: a lazy
import inside a function, written only to dodge a circle, is still an edge of the circle.
"""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import REPO

PACKAGE = REPO / "coursekit"
#: Every module's layer, lowest first: data -> models -> training -> views (the lessons, the
#: notebooks, sit above them all). A new module fails ``test_every_module_has_a_layer`` until
#: it is listed here.
LAYERS: dict[str, set[str]] = {
    "data": {"config", "downloads", "scan", "quarantine", "splits", "owndata", "datasets", "messy",
             "eda", "results", "__main__"},
    "models": {"cnn", "shapes", "model_layers", "pretrained"},
    "training": {"recipes", "training", "evaluation", "compare"},
    "views": {"activations", "patterns", "gradcam", "pictures", "widgets", "views", "explorers", "checks"},
}
#: Modules that must import without TensorFlow (the doctests get ``keras`` from the conftest).
WITHOUT_TENSORFLOW = ["config", "downloads", "scan", "quarantine", "splits", "owndata", "datasets",
                      "messy", "eda", "results", "shapes", "evaluation"]


def import_graph(package=PACKAGE) -> dict[str, set[str]]:
    """module -> the coursekit modules it imports (module level and inside functions)."""
    modules = {path.stem for path in package.glob("*.py") if path.stem != "__init__"}
    graph = {}
    for name in sorted(modules):
        found = set()
        for node in ast.walk(ast.parse((package / f"{name}.py").read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[1] for alias in node.names
                          if alias.name.startswith("coursekit.")}
            elif isinstance(node, ast.ImportFrom):  # absolute, or relative (from . import x)
                module = (".".join(filter(None, ["coursekit", node.module])) if node.level == 1
                          else node.module or "")
                if module == "coursekit":
                    found |= {alias.name for alias in node.names}
                elif module.startswith("coursekit."):
                    found.add(module.split(".")[1])
        graph[name] = found & modules - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle the depth-first search meets, as the path that closes it (empty: none)."""
    found, done = [], set()

    def visit(node, path):
        if node in path:
            found.append(path[path.index(node):] + [node])
            return
        if node in done:
            return
        for target in sorted(graph.get(node, ())):
            visit(target, path + [node])
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    return found


def test_the_graph_reads_every_form_of_import(tmp_path):
    (tmp_path / "a.py").write_text("import coursekit.b\nfrom coursekit import c\n"
                                   "def f():\n    from coursekit.d import x\n    from . import e\n"
                                   "    from .b import y\n")
    for name in "bcde":
        (tmp_path / f"{name}.py").write_text("")
    assert import_graph(tmp_path)["a"] == {"b", "c", "d", "e"}


def test_the_cycle_finder_finds_the_old_circle():
    """The circle issue 18 found: datasets -> splits -> scan -> datasets (for sha256_file)."""
    old = {"datasets": {"splits", "config"}, "splits": {"scan"}, "scan": {"datasets"}, "config": set()}
    assert cycles(old) == [["datasets", "splits", "scan", "datasets"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle():
    assert cycles(import_graph()) == []


def test_every_module_has_a_layer():
    listed = set().union(*LAYERS.values())
    assert set(import_graph()) - listed == set(), "add the new module to LAYERS in tests/test_imports.py"
    assert listed - set(import_graph()) == set(), "a module in LAYERS no longer exists"


def test_imports_run_one_way_through_the_layers():
    rank = {module: index for index, members in enumerate(LAYERS.values()) for module in members}
    upward = [f"{module} ({layer}) imports {target}"
              for layer, members in LAYERS.items() for module in sorted(members)
              for target in sorted(import_graph().get(module, ()))
              if rank.get(target, -1) > rank[module]]
    assert upward == [], "layers are data -> models -> training -> views:\n" + "\n".join(upward)


def test_data_modules_import_without_tensorflow_and_change_nothing_global():
    code = ("import sys, matplotlib, numpy as np, PIL.Image\n"
            "before = (dict(matplotlib.rcParams), PIL.Image.MAX_IMAGE_PIXELS)\n"
            "state = np.random.get_state()[1].copy()\n"
            "import coursekit\n"
            f"for name in {WITHOUT_TENSORFLOW!r}: __import__(f'coursekit.{{name}}')\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
            "assert (dict(matplotlib.rcParams), PIL.Image.MAX_IMAGE_PIXELS) == before, 'changed'\n"
            "assert (np.random.get_state()[1] == state).all(), 'numpy seeded'\n"
            "print('clean')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "clean", result.stderr[-2000:]
