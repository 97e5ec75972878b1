"""derive: gradient descent and backpropagation, derived (SymPy), evaluated (NumPy) and
worked step by step (Jinja), after the lecture "Gradient Descent and Training Neural Networks".

    >>> import derive
    >>> result = derive.example()            # the lecture's worked example
    >>> round(result.forward["o4"], 3), round(result.update["b4"], 3)
    (0.332, -0.408)
    >>> print(result.to_markdown())          # or to_latex(), to_text(), to_html(), to_json()

The API lives in derive.api; it is imported on first use so that `import derive` stays quick.
"""

__version__ = "0.1.0"

_API = ("load_spec", "example", "activation", "loss", "graph", "train", "descend", "check",
        "problems", "grade", "Problems", "Derivation", "Graph", "Document", "Example",
        "Training", "Descent", "Check", "Grades")
__all__ = [*_API, "DeriveError", "__version__"]

from derive.errors import DeriveError  # noqa: E402


def __getattr__(name):
    if name in _API:
        from derive import api

        return getattr(api, name)
    raise AttributeError(f"module 'derive' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_API))
