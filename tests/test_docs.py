"""The documents are executed (issue 17): every `$ derive ...` session of README.md and
docs/*.md runs from a clean directory and prints what the document shows; the specs they
use are shipped in examples/; docs/contracts.md names every command and option.

When a change alters an output on purpose: `python tests/docs_run.py --update`, then read
the diff of the documents."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from derive import spec as specs
from derive.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
import docs_run  # noqa: E402  (tests/docs_run.py: the runner, also a script)

ROOT = docs_run.ROOT


@pytest.mark.slow
@pytest.mark.parametrize("path", docs_run.documents(), ids=lambda p: p.name)
def test_every_documented_command_prints_what_its_document_shows(path):
    outcomes = docs_run.run_document(path)
    wrong = [o.diff(path) for o in outcomes if not o.ok]
    assert not wrong, ("\n\n".join(wrong) + "\n\nIf the new output is right, write it into "
                       "the documents with: python tests/docs_run.py --update")


def test_the_documents_hold_the_tour():
    """Every document is read (no `$ derive` outside a session), and the sessions cover the
    commands a newcomer meets first."""
    commands = [c.text for p in docs_run.documents() for s in docs_run.sessions(p)
                for c in s.commands]
    assert len(commands) >= 40
    text = " ".join(commands)
    for needed in ("derive example --activation sigmoid", "--spec examples/four.toml",
                   "derive check examples/answers.toml", "derive activation --expr",
                   "derive descend --preset shekels --lr 0.0001,0.001,0.02",
                   "derive problems", "derive graph", "derive loss", "derive train"):
        assert needed in text, needed
    for path in docs_run.documents():
        assert "shared/DESIGN.md" not in path.read_text(), path


# --- the checker can fail (a test that cannot fail is no test) --------------------------------

def _document(tmp_path, body: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(body)
    return path


def test_checker_refuses_a_wrong_line(tmp_path):
    path = _document(tmp_path, "```console\n$ derive activation tanh --format json\n{\n"
                     '  "name": "sigmoid",\n...\n```\n')
    (outcome,) = docs_run.run_document(path)
    assert not outcome.ok
    assert '-  "name": "sigmoid",' in outcome.diff(path)
    assert '+  "name": "tanh",' in outcome.diff(path)


def test_checker_refuses_a_missing_or_extra_line_and_an_empty_showing(tmp_path):
    actual = ["a", "b", "c", "d"]
    assert docs_run.matches(["a", "b", "c", "d"], actual)
    assert docs_run.matches(["a", "...", "d"], actual)
    assert docs_run.matches(["...", "c", "d"], actual)
    assert docs_run.matches(["a", "...", "c", "...", "d"], actual)
    assert not docs_run.matches(["a", "b", "c"], actual)  # a line left out, unmarked
    assert not docs_run.matches(["a", "b", "c", "d", "e"], actual)
    assert not docs_run.matches(["a", "...", "x", "...", "d"], actual)
    assert not docs_run.matches(["b", "...", "d"], actual)  # the start is anchored
    assert not docs_run.matches(["a", "..."] + ["c"], actual)  # and the end
    assert not docs_run.matches(["..."], actual)  # something printed must be shown
    assert docs_run.matches([], [])


def test_update_writes_the_real_output_and_keeps_the_ellipses(tmp_path):
    expected = ["title", "line 2 (old)", "...", "tail a", "tail b (old)"]
    actual = ["title", "line 2 (new)", "inserted", "x", "y", "tail a", "tail b (new)"]
    new = docs_run.updated(expected, actual)
    assert new[:2] == ["title", "line 2 (new)"] and "..." in new
    assert new[-2:] == ["tail a", "tail b (new)"]
    assert docs_run.matches(new, actual)
    path = _document(tmp_path, "Text.\n\n```console\n$ echo one; echo two\none\nold\n```\n")
    assert docs_run.update_document(path) == 1
    assert path.read_text() == "Text.\n\n```console\n$ echo one; echo two\none\ntwo\n```\n"
    assert all(o.ok for o in docs_run.run_document(path))


def test_a_derive_line_outside_a_session_is_refused(tmp_path):
    path = _document(tmp_path, "```\nsome text\n$ derive example\n```\n")
    with pytest.raises(ValueError, match="not a session"):
        docs_run.sessions(path)


def test_sessions_run_in_a_clean_directory_with_the_examples(tmp_path):
    path = _document(tmp_path, "```console\n$ ls\nexamples\n$ ls examples | head -1\n"
                     "answers.toml\n$ derive --version | cut -c1-6\nderive\n```\n")
    outcomes = docs_run.run_document(path)
    assert [o.ok for o in outcomes] == [True, True, True], [o.diff(path) for o in outcomes]


# --- the README's Python API runs as written ---------------------------------------------------

def test_readme_python_block_runs_from_a_fresh_clone(tmp_path):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    assert "examples/four.toml" in code
    work, env = docs_run.clean_directory()
    try:
        r = subprocess.run([sys.executable, "-c", code], cwd=work, env=env,
                           capture_output=True, text=True, timeout=600)
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    assert r.returncode == 0, r.stderr


# --- the shipped examples ------------------------------------------------------------------

def _load(name):
    return specs.load(ROOT / "examples" / name)


def test_lecture_spec_is_the_built_in_lecture():
    spec = _load("lecture.toml")
    for key in ("title", "loss", "learning_rate", "input_names", "layers", "examples"):
        assert getattr(spec, key) == getattr(specs.LECTURE, key), key


def test_four_students_start_with_the_lecture():
    spec = _load("four.toml")
    assert len(spec.examples) == 4 and spec.examples[0] == specs.LECTURE.examples[0]
    assert spec.layers == specs.LECTURE.layers and spec.sizes == (3, 2, 1)


def test_softmax_spec_is_a_2_2_2_cross_entropy_net():
    spec = _load("softmax.toml")
    assert spec.sizes == (2, 2, 2) and spec.loss == "ce"
    assert spec.layers[-1].activation == "softmax"
    for ex in spec.examples:
        assert min(ex.target) >= 0 and math.isclose(sum(ex.target), 1.0)


def test_relu_spec_has_no_dead_unit():
    """Every ReLU unit's net input is positive on every example (computed here by hand), so
    each passes its error back."""
    spec = _load("relu.toml")
    assert any(layer.activation == "relu" for layer in spec.layers)
    for ex in spec.examples:
        o = np.array(ex.input, dtype=float)
        for layer in spec.layers:
            i = np.array(layer.weights) @ o + np.array(layer.biases)
            if layer.activation == "relu":
                assert (i > 0).all(), i
                o = i
            else:
                o = 1 / (1 + np.exp(-i))


def test_mistake_specs_are_refused_each_for_its_mistake():
    from derive.errors import DeriveError

    for name, words in (("weights", "has 3 weights"), ("typo", "biasses"),
                        ("ce-sigmoid", "needs a softmax output layer"),
                        ("comment", "comments are not allowed")):
        with pytest.raises(DeriveError, match=words):
            _load(f"mistakes/{name}.toml")


# --- the contracts are the project's, and complete --------------------------------------------

def test_contracts_name_every_command_and_option():
    text = (ROOT / "docs" / "contracts.md").read_text()
    sections = re.split(r"\n### ", text)
    for name, command in main.commands.items():
        if command.hidden:
            continue
        section = next((s for s in sections if s.startswith(f"`derive {name}`")), None)
        assert section is not None, f"docs/contracts.md has no section for derive {name}"
        for param in command.params:
            options = [opt for opt in param.opts if opt.startswith("-")]
            if options:  # -o or --output
                assert any(opt in section for opt in options), \
                    f"derive {name} {'/'.join(options)} is not in docs/contracts.md"
    for promised in ("submissions.csv", "--chain", "--paper a4|letter", "--duplex", "--pdf",
                     "derive grade", "model_answer", "from_your_values"):
        assert promised in text, promised
    readme = (ROOT / "README.md").read_text()
    assert "(docs/contracts.md)" in readme
    assert "--format latex|markdown|html|moodle|qti" in readme
