"""A worker told to stop after its Redis went away (a test session or `make run` killed
hard: every child gets SIGTERM at once) still exits, WORKER_SHUTDOWN_SECONDS later, instead
of retrying its acknowledgements forever."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from stack.processes import start_mongo, start_redis, stop_all
from tests.helpers import start_worker

pytestmark = [pytest.mark.faults, pytest.mark.timeout(300)]

SHUTDOWN_SECONDS = 3


def test_a_worker_stopped_after_its_redis_died_exits_by_the_deadline(
    tmp_path: Path, worker_env: dict[str, str]
) -> None:
    mongo, mongo_url = start_mongo(tmp_path / "mongodb", tmp_path / "mongodb.log")
    redis, redis_url = start_redis(tmp_path / "redis", tmp_path / "redis.log")
    env = dict(
        worker_env,
        MONGODB_URL=mongo_url,
        REDIS_URL=redis_url,
        WORKER_SHUTDOWN_SECONDS=str(SHUTDOWN_SECONDS),
    )
    worker = start_worker(env, tmp_path / "worker.log")
    database = psutil.Process(mongo.proc.pid)  # type: ignore[union-attr]
    try:
        # The steps wait on a database that does not answer: they are in flight when Redis
        # goes away, so acknowledging them afterwards cannot succeed.
        database.suspend()
        sender = RedisBroker(url=redis_url)  # type: ignore[no-untyped-call]
        for n in range(4):
            sender.enqueue(
                Message(
                    queue_name="imports",
                    actor_name="process_batch",
                    args=(f"no-such-batch-{n}",),
                    kwargs={},
                    options={},
                )
            )
        queue = f"{sender.namespace}:imports"
        deadline = time.monotonic() + 60
        while sender.client.llen(queue) > 0:  # the worker processes have taken them
            assert time.monotonic() < deadline and worker.alive, "the worker took nothing"
            time.sleep(0.05)
        sender.close()
        time.sleep(1)
        stop_all([redis])
        worker.terminate()  # SIGTERM, as a dying parent's PR_SET_PDEATHSIG sends
        stopped = time.monotonic()
        database.resume()  # the steps now end, and acknowledge on a Redis that is gone
        assert worker.proc is not None
        worker.proc.wait(timeout=SHUTDOWN_SECONDS + 60)
        print(
            f"\n[shutdown] worker exited {time.monotonic() - stopped:.1f} s after SIGTERM "
            f"with Redis gone (deadline {SHUTDOWN_SECONDS} s)",
            flush=True,
        )
    finally:
        if database.is_running() and database.status() == psutil.STATUS_STOPPED:
            database.resume()
        stop_all([worker, redis, mongo], timeout=5)


@pytest.mark.parametrize("when", ["booting", "booted"])
def test_worker_processes_stop_when_their_main_process_is_killed(
    tmp_path: Path, worker_env: dict[str, str], when: str
) -> None:
    redis, redis_url = start_redis(tmp_path / "redis", tmp_path / "redis.log")
    env = dict(worker_env, REDIS_URL=redis_url, WORKER_SHUTDOWN_SECONDS=str(SHUTDOWN_SECONDS))
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        assert worker.proc is not None
        main = psutil.Process(worker.proc.pid)
        log = tmp_path / "worker.log"
        deadline = time.monotonic() + 60
        while len(main.children()) < 2 or (
            when == "booted" and log.read_text().count("Worker process is ready for action") < 2
        ):
            assert time.monotonic() < deadline and worker.alive, "the workers never started"
            time.sleep(0.02)
        processes = main.children()
        main.kill()  # SIGKILL: it cannot tell them to stop
        _, alive = psutil.wait_procs(processes, timeout=SHUTDOWN_SECONDS + 30)
        assert alive == [], f"worker processes outlived their main process: {alive}"
    finally:
        stop_all([worker, redis], timeout=5)
