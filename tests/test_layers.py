"""The layers of DESIGN.md's data flow, read from the source with ast (every import, at the top
of a module or inside a function): spec -> symbolic -> numeric -> documents -> render -> files.

* render imports nothing from derive: it is handed plain data (issue 17, point 13);
* the modules that compute (symbolic, numeric, the document builders, problem kinds, marking)
  never import render: only the places where derive meets render do (results, problem_files,
  the command line);
* derive.api holds the public functions and the result types, and writes no file.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# where derive hands its data to render (a result rendering itself, the files of a problem
# set, the command line printing)
MEETING_POINTS = {"derive/results.py", "derive/problem_files.py", "derive/cli.py"}


def imports(path: Path) -> set[str]:
    """Every module a file imports, wherever the import statement is."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_the_checker_sees_imports_inside_functions(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from derive.problemset import KINDS\n    import derive.api\n")
    assert {"derive.problemset", "derive.api"} <= imports(p)


@pytest.mark.parametrize("path", files("render"), ids=rel)
def test_render_imports_nothing_from_derive(path):
    found = sorted(m for m in imports(path) if m == "derive" or m.startswith("derive."))
    assert not found, f"{rel(path)} imports {found}: pass it data instead"


@pytest.mark.parametrize("path", [p for p in files("derive")
                                  if rel(p) not in MEETING_POINTS
                                  and not rel(p).startswith("derive/commands/")], ids=rel)
def test_only_the_meeting_points_import_render(path):
    found = sorted(m for m in imports(path) if m == "render" or m.startswith("render."))
    assert not found, f"{rel(path)} imports {found}; documents are plain data (DESIGN.md)"


def test_the_documents_have_a_package_of_their_own():
    docs = {p.name for p in (ROOT / "derive" / "documents").glob("*.py")}
    assert {"worked.py", "derivations.py", "training.py", "descent.py"} <= docs
    loose = {"worked.py", "explain.py", "train_document.py", "descend_document.py"}
    assert not loose & {p.name for p in (ROOT / "derive").glob("*.py")}


def test_the_api_module_is_the_functions_and_the_result_types():
    import derive.api as api
    import derive.results as results

    tree = ast.parse((ROOT / "derive" / "api.py").read_text(encoding="utf-8"))
    public = {n.name for n in tree.body
              if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and not n.name.startswith("_")}
    assert public == {"load_spec", "example", "train", "descend", "check", "problems",
                      "activation", "loss", "graph", "grade"}
    for name in api.__all__:  # the result types are the API's, defined in derive.results
        assert hasattr(api, name)
        obj = getattr(api, name)
        if isinstance(obj, type):
            assert obj.__module__ == "derive.results"
            assert getattr(results, name) is obj
    # file writing lives in derive.output and derive.problem_files, not in the API
    assert not {"derive.output", "shutil", "tempfile"} & imports(ROOT / "derive" / "api.py")
    text = (ROOT / "derive" / "api.py").read_text(encoding="utf-8")
    for call in ("open(", ".write_text(", ".write_bytes("):
        assert call not in text
    assert len(text.splitlines()) < 500
