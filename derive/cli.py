"""The `derive` command: a thin click layer over the library.

The library raises DeriveError for a user's mistake; here it becomes one line on stderr and
exit status 2, never a traceback.  Heavy imports (NumPy, Jinja, SymPy) happen inside the
commands, so `derive --help` and the JSON path start quickly.
"""

from __future__ import annotations

import _signal  # the C module: signal.py's enums cost the first milliseconds
import os
import sys


def _interrupted_while_starting(signum, frame):  # pragma: no cover (timing)
    """Ctrl-C while derive is still loading (its first 100 ms): nothing has been done yet,
    so there is nothing to clean up: one line, status 130, no traceback from an import."""
    try:
        os.write(2, b"\nderive: interrupted\n")
    except OSError:
        pass
    os._exit(130)


def _take_ctrl_c() -> bool:
    """Installed before the heavy imports below and put back at the end of this module, so
    that a program importing derive.cli keeps its own Ctrl-C handling; the command's own
    handling (main, below) takes over when it runs."""
    if _signal.getsignal(_signal.SIGINT) is not _signal.default_int_handler:
        return False
    try:
        _signal.signal(_signal.SIGINT, _interrupted_while_starting)
    except ValueError:  # not the main thread: leave signals alone
        return False
    return True


_STARTING = _take_ctrl_c()

import signal  # noqa: E402
import threading  # noqa: E402

import click  # noqa: E402

from derive.commands._common import (  # noqa: E402,F401  (re-exported for commands)
    DOCUMENT_FORMATS,
    complete_layer_activation,
    complete_loss,
    emit,
    format_option,
    friendly,
    output_format,
    output_options,
)
from derive.commands._terminal import Terminated, say, say_block  # noqa: E402
from derive.errors import DECIMALS, DeriveError  # noqa: E402
from derive.symbolic.definitions import ACTIVATIONS, LOSSES  # noqa: E402


def _raise(exc_type):
    def handler(signum, frame):
        raise exc_type()
    return handler


class _signals:
    """Ctrl-C and SIGTERM as exceptions while a command runs; the handlers before, after."""

    def __enter__(self):
        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for sig, exc_type in ((signal.SIGINT, KeyboardInterrupt),
                                  (signal.SIGTERM, Terminated)):
                self.saved[sig] = signal.signal(sig, _raise(exc_type))
        return self

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        return False


class _Guarded(click.Group):
    """The command group with a last safety net: an exception that is not a user's mistake
    (a bug in derive) is reported as one line asking for a bug report, exit status 70
    (EX_SOFTWARE), instead of a traceback.  DERIVE_DEBUG=1 re-raises it (and the tests set it,
    so that no bug hides behind the net).

    Everything click itself would print (usage errors) goes through derive's terminal rules
    (control characters escaped, the stream's encoding); Ctrl-C prints "derive: interrupted"
    and exits 130, SIGTERM "derive: terminated" and 143, whatever was being written removed.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        if not standalone_mode:  # the caller handles errors itself
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        with _signals():
            try:
                value = super().main(args, prog_name, complete_var, standalone_mode=False,
                                     **extra)
            except click.exceptions.ClickException as exc:
                import io

                text = io.StringIO()
                exc.show(file=text)
                say_block(text.getvalue())
                sys.exit(exc.exit_code)
            except (click.exceptions.Abort, KeyboardInterrupt) as exc:
                cause = exc if isinstance(exc, KeyboardInterrupt) else exc.__context__
                if isinstance(cause, Terminated):
                    say("derive: terminated")
                    sys.exit(143)
                say("derive: interrupted" if isinstance(cause, KeyboardInterrupt)
                    else "derive: aborted")
                sys.exit(130 if isinstance(cause, KeyboardInterrupt) else 1)
        sys.exit(value if isinstance(value, int) else 0)

    def invoke(self, ctx):
        from derive.symbolic import worker

        worker.start_command()  # SymPy's work for a user's expression ends in time (10 s)
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort,
                SystemExit, KeyboardInterrupt, GeneratorExit):
            raise
        except DeriveError as exc:  # raised outside a command's own handler
            say(f"derive: error: {exc}")
            sys.exit(2)
        except Exception as exc:
            if os.environ.get("DERIVE_DEBUG", "") not in ("", "0"):
                raise
            say(f"derive: internal error: {type(exc).__name__}: {_one_line(exc)} -- "
                f"this is a bug in derive, not in your input; please report it with "
                f"the command you ran (DERIVE_DEBUG=1 shows the traceback)")
            sys.exit(70)


def _one_line(exc) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:197] + "..."


@click.group(cls=_Guarded,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="derive")
def main():
    """derive: gradient descent and backpropagation, derived and worked step by step.

    SymPy derives the gradients, NumPy evaluates them, Jinja writes the worked solution.
    """


@main.command()
@click.option("--spec", "spec_path", type=click.Path(dir_okay=False),
              help="Network spec (TOML). Default: the lecture's 3-2-1 example.")
@click.option("--activation", metavar="NAME", shell_complete=complete_layer_activation,
              help=f"Use this activation in every layer: {', '.join(ACTIVATIONS)}.")
@click.option("--loss", metavar="NAME", shell_complete=complete_loss,
              help=f"Loss: {', '.join(LOSSES)}.")
@click.option("--lr", type=float, help="Learning rate η (default: the spec's).")
@click.option("--example", "example_no", type=click.IntRange(min=1), default=1,
              show_default=True, help="Which of the spec's [[examples]] to use.")
@click.option("--decimals", type=click.IntRange(*DECIMALS), default=3, show_default=True,
              help="Places shown for net inputs, outputs and parameters (one more for "
                   "error terms, gradients and the loss).")
@click.option("--rounding", type=click.Choice(["exact", "hand"]), default="exact",
              show_default=True,
              help="exact: carry full precision; hand: round each value as it is computed, "
                   "as on the slides.")
@format_option()
@output_options
@friendly
def example(spec_path, activation, loss, lr, example_no, decimals, rounding, fmt, output,
            force):
    """One training step, worked as on the lecture's slides.

    Forward pass, loss, error terms and updates, every sum written out with its numbers.
    """
    from derive import api

    fmt = output_format(fmt, output, force)
    result = api.example(spec_path, activation=activation, loss=loss, lr=lr, rounding=rounding,
                         decimals=decimals, example=example_no)
    text = result.render(fmt)
    emit(text, output, force)


@main.command(hidden=True)
@click.argument("directory", type=click.Path(file_okay=False), default="output")
@click.option("--force", is_flag=True, help="Overwrite the samples that are there.")
@friendly
def samples(directory, force):
    """Regenerate the committed sample outputs (output/); a test checks they are current."""
    from pathlib import Path

    from derive.output import write_together
    from derive.spec import LECTURE
    from derive.documents.worked import worked_example
    from render import render
    from render.latex import compile_pdf

    doc = worked_example(LECTURE)
    out = Path(directory)
    tex = render("example", "latex", doc=doc)
    files = [(out / "lecture-example.md", render("example", "markdown", doc=doc)),
             (out / "lecture-example.tex", tex),
             (out / "lecture-example.pdf", compile_pdf(tex))]
    for path in write_together(files, force):  # all three or none
        say(f"wrote {path}")


# the commands of the other modules, one line each
from derive.commands.train import train as _train; main.add_command(_train)  # noqa: E402
from derive.commands.descend import descend as _descend; main.add_command(_descend)  # noqa: E402
from derive.commands.check import check as _check; main.add_command(_check)  # noqa: E402
from derive.commands.grade import grade as _grade; main.add_command(_grade)  # noqa: E402
from derive.commands.problems import problems as _problems; main.add_command(_problems)  # noqa: E402
from derive.commands.activation import activation as _activation; main.add_command(_activation)  # noqa: E402,E501
from derive.commands.loss import loss as _loss; main.add_command(_loss)  # noqa: E402,E501
from derive.commands.graph import graph as _graph; main.add_command(_graph)  # noqa: E402,E501


def _the_command_is_starting() -> bool:
    """Is this the `derive` script (pip's wrapper: bin/derive, derive.exe, derive-script.py)
    rather than a program that imports derive.cli?"""
    import re

    main_file = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    return re.fullmatch(r"derive(\.exe|-script\.pyw?)?", os.path.basename(main_file)) is not None


# Loaded.  The `derive` script keeps the quiet Ctrl-C until main() installs its own (the
# wrapper still has lines to run); a program that imported derive.cli gets its Ctrl-C back.
if _STARTING and not (__name__ == "__main__" or _the_command_is_starting()):
    _signal.signal(_signal.SIGINT, _signal.default_int_handler)


if __name__ == "__main__":  # pragma: no cover
    main()
