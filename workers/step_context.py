"""The log context of a worker's message (DESIGN.md §8): the request that started the work
travels in each message's options (set when it is sent, from the sender's context: the API
request, or the step that sends the next one), and the message's step and import are bound
to every line logged while it runs; one line says how the step ended."""

from __future__ import annotations

import logging
import time
from typing import Any

from dramatiq import Message
from dramatiq.broker import MessageProxy
from dramatiq.middleware import Middleware

from config import logs
from store.jobs.states import batch_parts
from store.jobs.steps import STEPS

log = logging.getLogger("workers.steps")
REQUEST_ID_OPTION = "request_id"
# Actors whose first argument is an import's (or revert's) id, or a batch's
# (store.jobs.states.batch_id: "<import id>-<number>").
JOB_STEPS = frozenset(actor for step in STEPS if not step.on_batches for actor in step.actors)
BATCH_STEPS = frozenset(actor for step in STEPS if step.on_batches for actor in step.actors)


def context_of(message: Message[Any] | MessageProxy) -> dict[str, Any]:
    """The context fields of a message: its request, step, import and batch."""
    fields: dict[str, Any] = {
        "requestId": message.options.get(REQUEST_ID_OPTION),
        "step": message.actor_name,
        "importId": None,
        "batch": None,
    }
    subject = str(message.args[0]) if message.args else ""
    if message.actor_name in JOB_STEPS:
        fields["importId"] = subject
    elif message.actor_name in BATCH_STEPS and "-" in subject:
        job_id, number = batch_parts(subject)
        fields["importId"], fields["batch"] = job_id, int(number) if number.isdigit() else number
    return fields


class StepContext(Middleware):
    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def before_enqueue(self, broker: Any, message: Message[Any], delay: int) -> None:
        request_id = logs.current("requestId")
        if request_id is not None:
            message.options[REQUEST_ID_OPTION] = request_id

    def before_process_message(self, broker: Any, message: MessageProxy) -> None:
        # Bound in the worker thread; the AsyncIO middleware runs the actor's coroutine in a
        # copy of this thread's context, so its lines carry the fields too.
        logs.bind(**context_of(message))
        self._started[message.message_id] = time.monotonic()

    def after_process_message(
        self,
        broker: Any,
        message: MessageProxy,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        seconds = time.monotonic() - self._started.pop(message.message_id, time.monotonic())
        if exception is None:
            log.info("%s done in %.3f s", message.actor_name, seconds)
        else:
            log.warning(
                "%s failed after %.3f s: %s", message.actor_name, seconds, type(exception).__name__
            )
        logs.bind(requestId=None, step=None, importId=None, batch=None)

    def after_skip_message(self, broker: Any, message: MessageProxy) -> None:
        self._started.pop(message.message_id, None)
        logs.bind(requestId=None, step=None, importId=None, batch=None)
