"""The collector pauses: what the console script's run-long pause frees, and when."""

from __future__ import annotations

import gc
import weakref

import pytest

from relufind import gcpause


class _Cyclic:
    """An object in a reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def collector_state():  # type: ignore[no-untyped-def]
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


@pytest.mark.usefixtures("collector_state")
def test_next_model_frees_what_the_previous_model_left_under_a_run_long_pause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gcpause, "_model_analysed", False)
    gc.disable()
    gcpause.next_model()  # the first model: nothing before it to free
    garbage = _Cyclic()
    left = weakref.ref(garbage)
    del garbage
    assert left() is not None
    gcpause.next_model()
    assert left() is None


@pytest.mark.usefixtures("collector_state")
def test_next_model_leaves_a_running_collector_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gcpause, "_model_analysed", True)
    collected: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: collected.append(generation) or 0)
    gc.enable()
    gcpause.next_model()
    assert collected == []


@pytest.mark.usefixtures("collector_state")
def test_whole_run_pauses_the_collector_and_leaves_the_rest_to_the_process_end() -> None:
    gc.enable()
    with gcpause.whole_run():
        assert not gc.isenabled()
    assert not gc.isenabled() and gc.get_freeze_count() > 0
