"""The log fields a worker binds for a message (workers.step_context.context_of)."""

from __future__ import annotations

from typing import Any

import pytest
from dramatiq import Message

from workers.step_context import REQUEST_ID_OPTION, context_of


def message(actor: str, subject: str, **options: Any) -> Message[Any]:
    return Message(queue_name="q", actor_name=actor, args=(subject,), kwargs={}, options=options)


@pytest.mark.parametrize("actor", ["process_batch", "process_small_batch"])
def test_a_batch_names_its_import_and_number_whichever_queue_ran_it(actor: str) -> None:
    fields = context_of(message(actor, "6b12f660db495d6050b36406-3", **{REQUEST_ID_OPTION: "r1"}))
    assert fields == {
        "requestId": "r1",
        "step": actor,
        "importId": "6b12f660db495d6050b36406",
        "batch": 3,
    }


@pytest.mark.parametrize("actor", ["plan_import", "finalize_import", "revert_import"])
def test_a_job_step_names_its_import(actor: str) -> None:
    fields = context_of(message(actor, "6b12f660db495d6050b36406"))
    assert fields == {
        "requestId": None,
        "step": actor,
        "importId": "6b12f660db495d6050b36406",
        "batch": None,
    }


def test_another_actor_names_no_import() -> None:
    fields = context_of(message("deliver_webhook", "6b12f660db495d6050b36406"))
    assert (fields["importId"], fields["batch"]) == (None, None)
