import importlib.util

import pytest

requires_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None,
                                    reason="torch is not installed: pip install torch==2.13.0")
