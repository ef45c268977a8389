"""How the services hand work to the workers. Messages carry ids only."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable  # the API injects one, and checks what it gets
class Dispatcher(Protocol):
    def plan(self, job_id: str) -> None: ...
    # small_import: a batch of an import of few batches (policy.small_import), run first.
    def process_batch(self, batch_id: str, small_import: bool) -> None: ...
    def finalize(self, job_id: str) -> None: ...
    def revert(self, revert_id: str) -> None: ...
