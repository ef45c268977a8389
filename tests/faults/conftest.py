"""The fault suite's fixtures: one stack of real processes for the whole suite (the
scenarios restart its parts, never the other tests' servers), and the clean runs the
faulty ones are compared with, each computed once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.faults.harness import STANDARD_FILE, FaultStack, Result, config


@pytest.fixture(scope="session")
def fault_stack(workdir: Path) -> Iterator[FaultStack]:
    stack = FaultStack(workdir / "faults")
    stack.workdir.mkdir(parents=True, exist_ok=True)
    try:
        yield stack.start()
    finally:
        stack.stop_everything()


@pytest.fixture(scope="session")
def clean_run(fault_stack: FaultStack) -> Callable[[str], Result]:
    """The standard import's result on a clean run, for an action."""
    cache: dict[str, Result] = {}

    def clean(action: str) -> Result:
        if action not in cache:
            fault_stack.reset()
            cache[action] = fault_stack.run(STANDARD_FILE, config(action))
            print(f"\n[clean] {action}: {cache[action].seconds:.1f} s", flush=True)
        return cache[action]

    return clean
