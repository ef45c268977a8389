"""A process that ends with its parent: Linux sends it a signal when the process that
started it dies, even by SIGKILL, so nothing the stack starts outlives it."""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1  # prctl(2)


def stop_with_parent(sig: signal.Signals = signal.SIGTERM) -> None:
    """Ask for `sig` when the parent dies (Linux sends it when the starting *thread* ends:
    start children from the main thread). A no-op elsewhere."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
