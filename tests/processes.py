"""For tests that signal a child process they start."""

from __future__ import annotations

import signal


def default_sigint() -> None:
    """A ``preexec_fn``: the child gets SIGINT's default action. A shell without job control
    (CI in the background) starts jobs with SIGINT ignored, and Python keeps an ignored SIGINT
    ignored, so Ctrl-C would never reach the command under test."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
