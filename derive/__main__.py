"""`python -m derive ...` is the `derive` command (for an environment without its script on
PATH, and for `python -m derive --help`)."""

from derive.cli import main

if __name__ == "__main__":  # pragma: no cover - run as a module
    main(prog_name="derive")
