"""User-facing errors.

Anything the user can fix (a bad file, a wrong option, a missing key) raises
:class:`UserError`. The CLI turns it into one line on stderr and exit code 2,
never a traceback. The message names the file and line/record and says what to do.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input. Exit code 2, one-line message."""

    exit_code = 2

    def __init__(self, message: str, *, path: object | None = None, where: str | None = None,
                 hint: str | None = None):
        parts = []
        if path is not None:
            parts.append(f"{path}" + (f" ({where})" if where else ""))
        elif where:
            parts.append(where)
        parts.append(message)
        text = ": ".join(parts)
        if hint:
            text += f". {hint}" if not text.endswith(".") else f" {hint}"
        super().__init__(text)
        self.path, self.where, self.hint = path, where, hint
