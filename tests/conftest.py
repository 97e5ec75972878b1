import shutil

import pytest

requires_pdflatex = pytest.mark.skipif(shutil.which("pdflatex") is None,
                                       reason="pdflatex is not installed (CI installs it)")
