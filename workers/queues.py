"""The import workers' queues and the order a worker runs what it fetched (no side effects:
the tests and the recovery check import it without a broker).

One queue per kind of step, so that no kind waits behind another's backlog: the one-message
steps of a job (planning, completion, revert, a schedule's run) in `STEPS`, the batches of
big imports in `BATCHES`, and those of small imports (store.jobs.policy.small_import) in
`SMALL_BATCHES`. A worker process consumes every queue at once and runs the messages it
fetched by their actor's priority (Dramatiq: lower runs first), so a small import's steps run
as soon as a worker thread is free, however many batches of big imports wait."""

from __future__ import annotations

STEPS = "imports"
BATCHES = "import_batches"
SMALL_BATCHES = "import_batches_small"
IMPORT_QUEUES = (STEPS, BATCHES, SMALL_BATCHES)

FIRST = 0  # a job's one-message steps and small imports' batches
AFTER_OTHERS = 10  # big imports' batches
