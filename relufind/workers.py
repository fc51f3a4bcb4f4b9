"""``--jobs N``: analyse many targets in worker processes, results in the order given.

Each worker is a fresh interpreter (``spawn``: model code run by one target must not be
inherited by the next worker, and torch is imported once per worker, not once per target).
The parent hands out one task at a time, so a worker that crashes (a segfault in an
extension, ``os._exit`` in model code) or hangs past its deadline costs only the task it
was running: that task gets ``on_failure``'s result, the worker is replaced, the rest go on.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.connection
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")

#: extra seconds a worker gets beyond the per-target timeout (which it enforces itself)
#: before the parent kills it: start-up, importing torch, sending the result back
GRACE_SECONDS = 30.0
#: how long finished workers get to exit on their own before they are killed
STOP_SECONDS = 0.2


def default_jobs() -> int:
    """``--jobs 0``: one worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _serve(work: Callable[[Any], Any], conn: multiprocessing.connection.Connection) -> None:
    """A worker's loop: receive (index, task), send back (index, result); None ends it.

    The collector is paused for the worker's life, as for the console script's whole run
    (``gcpause.whole_run``): each model's garbage is collected before the next (``run_one``).
    """
    gc.disable()
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        index, task = message
        conn.send((index, work(task)))


@dataclass
class _Worker(Generic[Task]):
    process: Any  # multiprocessing.Process (spawn context)
    conn: multiprocessing.connection.Connection
    index: int | None = None  # the task in flight
    task: Task | None = None
    started: float = 0.0


class Pool(Generic[Task, Result]):
    def __init__(
        self,
        work: Callable[[Task], Result],
        jobs: int,
        on_failure: Callable[[Task, str], Result],
        deadline: float | None = None,
    ) -> None:
        """``work`` must be a module-level function (it is pickled by name for the workers)."""
        self.work = work
        self.jobs = max(1, jobs)
        self.on_failure = on_failure
        self.deadline = None if deadline is None else deadline + GRACE_SECONDS
        self._context = multiprocessing.get_context("spawn")

    def map(self, tasks: Sequence[Task]) -> Iterator[Result]:
        """Results in the order of ``tasks``, each yielded as soon as it and all before it are done."""
        pending = list(enumerate(tasks))
        pending.reverse()  # pop() from the end hands tasks out in order
        done: dict[int, Result] = {}
        workers = [self._start() for _ in range(min(self.jobs, len(tasks)))]
        next_out = 0
        try:
            while next_out < len(tasks):
                for worker in workers:
                    if worker.index is None and pending:
                        self._hand_out(worker, *pending.pop())
                self._collect(workers, done)
                while next_out in done:
                    yield done.pop(next_out)
                    next_out += 1
        finally:
            self._stop_all(workers)

    def _start(self) -> _Worker[Task]:
        parent, child = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(self.work, child), daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def _hand_out(self, worker: _Worker[Task], index: int, task: Task) -> None:
        worker.index, worker.task, worker.started = index, task, time.monotonic()
        worker.conn.send((index, task))

    def _collect(self, workers: list[_Worker[Task]], done: dict[int, Result]) -> None:
        busy = [w for w in workers if w.index is not None]
        waitables = [w.conn for w in busy] + [w.process.sentinel for w in busy]
        ready = multiprocessing.connection.wait(waitables, 1.0)
        for position, worker in enumerate(workers):
            if worker.index is None:
                continue
            if worker.conn in ready:
                try:
                    index, result = worker.conn.recv()
                except (EOFError, OSError):  # the pipe closed: the process is dying
                    self._replace(workers, position, done, _crash(worker))
                    continue
                done[index] = result
                worker.index, worker.task = None, None
            elif worker.process.sentinel in ready:
                self._replace(workers, position, done, _crash(worker))
            elif self.deadline is not None and time.monotonic() - worker.started > self.deadline:
                why = f"no answer after {self.deadline:g} s; the worker was stopped"
                self._replace(workers, position, done, why)

    def _replace(
        self, workers: list[_Worker[Task]], position: int, done: dict[int, Result], why: str
    ) -> None:
        worker = workers[position]
        assert worker.index is not None
        done[worker.index] = self.on_failure(worker.task, why)  # type: ignore[arg-type]
        self._stop(worker, kill=True)
        workers[position] = self._start()

    def _stop_all(self, workers: list[_Worker[Task]]) -> None:
        """Ask every worker to end, give them all one short wait together, kill the rest: an
        idle worker holds nothing, and torch's interpreter teardown takes seconds."""
        for worker in workers:
            if worker.process.is_alive():
                try:
                    worker.conn.send(None)
                except (OSError, BrokenPipeError):
                    worker.process.kill()
        until = time.monotonic() + STOP_SECONDS
        for worker in workers:
            worker.process.join(max(0.0, until - time.monotonic()))
        for worker in workers:
            self._stop(worker, kill=True)

    def _stop(self, worker: _Worker[Task], kill: bool = False) -> None:
        if not kill and worker.process.is_alive():
            try:
                worker.conn.send(None)
            except (OSError, BrokenPipeError):
                kill = True
            # an idle worker holds nothing: no need to wait seconds for torch's interpreter teardown
            worker.process.join(STOP_SECONDS)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(5)
        worker.conn.close()


def _crash(worker: _Worker[Any]) -> str:
    worker.process.join(5)
    return f"the worker process crashed (exit code {worker.process.exitcode})"
