import shutil

import pytest

requires_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None,
                                       reason="pdflatex is not installed (CI installs it)")


@pytest.fixture(autouse=True)
def _derive_debug(monkeypatch):
    """Tests see a bug as the exception it is: the CLI's safety net (one line, exit 70 for an
    unexpected exception) re-raises under DERIVE_DEBUG=1.  Tests of the net itself delenv."""
    monkeypatch.setenv("DERIVE_DEBUG", "1")


def pytest_terminal_summary(terminalreporter):
    """How many bad inputs the property tests tried, and how many gave a traceback."""
    import sys

    props = sys.modules.get("tests.test_properties") or sys.modules.get("test_properties")
    if props is not None and props.BAD_INPUTS["tried"]:
        counts = props.BAD_INPUTS
        terminalreporter.write_line(f"derive: {counts['tried']} bad inputs tried (random "
                                    f"invalid specs and arguments), {counts['tracebacks']} "
                                    f"gave a traceback")
    if props is not None and any(props.HOSTILE.values()):
        tried = ", ".join(f"{n} {what}" for what, n in props.HOSTILE.items())
        terminalreporter.write_line(f"derive: hostile classes tried (issue 13): {tried}")
