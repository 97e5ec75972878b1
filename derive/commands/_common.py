"""derive.cli's helpers, reached lazily.

derive/cli.py imports the command modules at its end (one hook line each), so a command module
must not import derive.cli while it is itself being imported: under `python -m derive.cli`
the CLI module runs as __main__, and a module-level `from derive.cli import ...` would import
a second copy of derive.cli whose hook line finds this module half-initialised.  These
wrappers look derive.cli up when a command RUNS, by which time every module is complete.
The options are declared exactly as derive.cli declares them.
"""

from __future__ import annotations

import functools

import click

DOCUMENT_FORMATS = ("text", "markdown", "latex", "json")  # = derive.cli.DOCUMENT_FORMATS


def friendly(fn):
    """derive.cli.friendly (DeriveError -> one line on stderr, exit status 2), looked up late."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from derive.cli import friendly as _friendly

        return _friendly(fn)(*args, **kwargs)

    return wrapper


def emit(text: str, output, force: bool) -> None:
    from derive.cli import emit as _emit

    _emit(text, output, force)


def format_option(formats=DOCUMENT_FORMATS):
    return click.option("--format", "fmt", type=click.Choice(formats), default=None,
                        help="Output format (default: from the suffix of -o, else text).")


def output_options(fn):
    fn = click.option("--force", is_flag=True, help="Overwrite an existing output file.")(fn)
    fn = click.option("-o", "--output", type=click.Path(dir_okay=False),
                      help="Write to this file instead of the terminal.")(fn)
    return fn
