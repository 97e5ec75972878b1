"""The one exception type a user's mistake raises.

The library raises DeriveError for bad files, bad values, unknown names and impossible
combinations; the CLI turns it into one line on stderr and exit status 2.  Anything else that
escapes is a bug in derive, not in the user's input.
"""

from __future__ import annotations

import difflib


class DeriveError(ValueError):
    """A user's input cannot be used; the message says which input and what would be valid."""


def did_you_mean(name: str, choices) -> str:
    """' (did you mean 'tanh'?)' for a near miss among choices, else ''."""
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown(what: str, name: str, choices) -> DeriveError:
    """The standard message for a name that is not in a registry."""
    choices = list(choices)
    return DeriveError(
        f"unknown {what} '{name}'{did_you_mean(name, choices)}; "
        f"choose one of: {', '.join(choices)}"
    )


# places a person can read: 0 shows σ(0) = 1 for o = 0.525 and 1 − 0.525, more than 6 only noise
DECIMALS = (1, 6)


def check_decimals(value, what: str = "decimals") -> int:
    """The places asked for (net inputs, outputs and parameters; one more for error terms,
    gradients and losses): a whole number from 1 to 6, else a DeriveError naming `what`."""
    low, high = DECIMALS
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DeriveError(f"{what} must be a whole number from {low} to {high}, not {value!r}")
    return value
