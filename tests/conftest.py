import shutil

import pytest

requires_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None,
                                       reason="pdflatex is not installed (CI installs it)")


@pytest.fixture(autouse=True)
def _derive_debug(monkeypatch):
    """Tests see a bug as the exception it is: the CLI's safety net (one line, exit 70 for an
    unexpected exception) re-raises under DERIVE_DEBUG=1.  Tests of the net itself delenv."""
    monkeypatch.setenv("DERIVE_DEBUG", "1")
