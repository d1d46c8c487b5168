"""The architecture as a test: a lower folder of rnnkit never imports a higher one.

cells -> layers -> data -> models -> training -> diagnostics -> serving -> timeseries -> tasks -> cli
(see ../shared/DESIGN.md). The bottom modules (``_checks``, ``_version``) import nothing of rnnkit.
Imports are read with ``ast``, so one inside a function counts too.
"""

import ast
import sys
from pathlib import Path

ORDER = ["cells", "layers", "data", "models", "training", "diagnostics", "serving", "timeseries", "tasks", "cli"]
RANK = {name: i for i, name in enumerate(ORDER)}
BOTTOM = {"_checks", "_version"}
PACKAGE = Path(__file__).resolve().parents[1] / "rnnkit"


def imported_modules(path: Path):
    """(line, ["rnnkit", "part", ...]) for every import in the file, relative ones resolved."""
    package = ["rnnkit", *path.relative_to(PACKAGE).with_suffix("").parts[:-1]]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            mod = base + (node.module.split(".") if node.module else [])
            targets = [mod] if node.module else [mod + [a.name] for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name.split(".") for a in node.names]
        else:
            continue
        for target in targets:
            if target and target[0] == "rnnkit":
                yield node.lineno, target


def violations():
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        here = parts[0]
        for line, target in imported_modules(path):
            where = f"{path.relative_to(PACKAGE.parent)}:{line} imports {'.'.join(target)}"
            if here in BOTTOM and len(target) > 1 and target[1] not in BOTTOM:
                bad.append(f"{where} (the bottom module {here} imports nothing of rnnkit)")
            elif here in RANK and len(target) > 1 and target[1] in RANK and RANK[target[1]] > RANK[here]:
                bad.append(f"{where} (a higher layer than {here})")
            elif here in RANK and len(target) == 1:
                bad.append(f"{where} (the top package, from inside {here})")
    return bad


def test_no_module_imports_a_higher_layer():
    assert violations() == []


def test_the_checker_sees_a_violation(tmp_path, monkeypatch):
    """The checker itself: a cells module importing rnnkit.training is found, relative or absolute."""
    fake = tmp_path / "rnnkit"
    (fake / "cells").mkdir(parents=True)
    (fake / "cells" / "bad.py").write_text("from ..training import Trainer\n\ndef f():\n    import rnnkit.cli\n")
    (fake / "layers").mkdir()
    (fake / "layers" / "good.py").write_text("from ..cells import LSTMCell\nfrom .._checks import describe\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    found = violations()
    assert len(found) == 2 and all("cells/bad.py" in v for v in found)


def test_every_folder_has_a_place_in_the_order():
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert folders - set(ORDER) == set(), "a new folder of rnnkit needs its place in ORDER (and in DESIGN.md)"
