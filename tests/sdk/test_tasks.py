"""Task tracking written once (twochat_voice_web.tasks): tasks are kept until done, failures reach the
owner's policy, cancellations do not, and the owner can cancel what is left."""

from __future__ import annotations

import asyncio
import gc

from fakes import wait_until

from twochat_voice_web.tasks import TaskSet


async def test_a_task_nobody_else_holds_runs_to_its_end() -> None:
    done = asyncio.Event()

    async def work() -> None:
        await asyncio.sleep(0.01)
        done.set()

    tasks = TaskSet()
    tasks.spawn(work())
    gc.collect()  # asyncio holds tasks weakly: the set must hold them
    await asyncio.wait_for(done.wait(), 5)
    await wait_until(lambda: len(tasks) == 0, what="the finished task to leave the set")


async def test_a_failure_reaches_the_policy_and_a_cancellation_does_not() -> None:
    failures: list[tuple[str, str]] = []
    tasks = TaskSet(on_failure=lambda task, exc: failures.append((task.get_name(), str(exc))))

    async def boom() -> None:
        raise ValueError("boom")

    async def forever() -> None:
        await asyncio.Event().wait()

    failing = tasks.spawn(boom(), name="the failing one")
    waiting = tasks.spawn(forever())
    await asyncio.wait([failing])
    assert tasks.pending() == {waiting}
    tasks.cancel_all()
    await asyncio.wait([waiting])
    await wait_until(lambda: len(tasks) == 0, what="the cancelled task to leave the set")
    assert failures == [("the failing one", "boom")]
