"""--jobs: results in order, and one crashing or hanging target costs only itself."""

from __future__ import annotations

from pool_tasks import work

from relufind import workers
from relufind.workers import Pool


def failed(task: tuple[str, float], why: str) -> str:
    return f"failed {task[0]}: {why}"


def test_results_come_in_the_order_given_whatever_finishes_first() -> None:
    tasks = [("a", 0.4), ("b", 0.0), ("c", 0.2), ("d", 0.0)]
    results = list(Pool(work, 2, failed).map(tasks))
    assert [r.split(":")[0] for r in results] == ["a", "b", "c", "d"]
    assert len({r.split(":")[1] for r in results}) == 2  # two worker processes shared the work


def test_a_crash_costs_only_its_own_target() -> None:
    results = list(Pool(work, 2, failed).map([("a", 0), ("crash", 0), ("b", 0), ("c", 0)]))
    assert results[1] == "failed crash: the worker process crashed (exit code 3)"
    assert [r.split(":")[0] for r in results[:1] + results[2:]] == ["a", "b", "c"]


def test_a_hang_is_stopped_at_its_deadline(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(workers, "GRACE_SECONDS", 0.0)
    results = list(Pool(work, 2, failed, deadline=3.0).map([("hang", 0), ("a", 0), ("b", 0)]))
    assert results[0].startswith("failed hang: no answer after 3 s")
    assert [r.split(":")[0] for r in results[1:]] == ["a", "b"]


def test_jobs_zero_means_one_per_core() -> None:
    assert workers.default_jobs() >= 1
