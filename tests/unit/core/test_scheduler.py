"""run_graph with toy steps on real threads: order, concurrency, bounds and failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from etl.core.scheduler import Blocked, Done, GraphEvent, Limit, Started, run_graph

# a -> b -> d, a -> c -> d, d -> e; f stands alone
ORDER = ["a", "b", "c", "d", "e", "f"]
NEEDS = {"b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d"]}


class Recorder:
    """Work that sleeps a little and records when each step ran and how many ran at once."""

    def __init__(self, *, failing: frozenset[str] = frozenset(), seconds: float = 0.02) -> None:
        self.failing = failing
        self.seconds = seconds
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.most_at_once = 0
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.together: list[set[str]] = []

    def __call__(self, name: str) -> bool:
        with self.lock:
            self.started[name] = time.monotonic()
            self.running.add(name)
            self.most_at_once = max(self.most_at_once, len(self.running))
            self.together.append(set(self.running))
        time.sleep(self.seconds)
        with self.lock:
            self.running.discard(name)
            self.ended[name] = time.monotonic()
        return name not in self.failing


def run(
    work: Callable[[str], bool], *, threads: int, limits: dict[str, Limit] | None = None
) -> list[GraphEvent[bool]]:
    return list(run_graph(ORDER, NEEDS, work, bool, threads=threads, limits=limits))


def test_no_step_starts_before_what_it_needs_has_ended() -> None:
    work = Recorder()

    events = run(work, threads=4)

    assert sorted(work.ended) == ORDER
    for step, needed in NEEDS.items():
        for other in needed:
            assert work.started[step] >= work.ended[other], f"{step} started before {other} ended"
    for event in events:
        if isinstance(event, Done):
            assert event.result is True
    names = [e.name for e in events if isinstance(e, Started)]
    assert sorted(names) == ORDER


def test_independent_steps_run_at_once_but_never_more_than_the_pool() -> None:
    work = Recorder(seconds=0.1)

    run(work, threads=2)

    assert work.most_at_once == 2, "b and c (or a and f) overlap, a third never joins them"


def test_one_thread_runs_the_steps_in_the_given_order() -> None:
    work = Recorder(seconds=0)

    events = run(work, threads=1)

    assert [e.name for e in events if isinstance(e, Started)] == ORDER
    assert work.most_at_once == 1


def test_the_step_heading_the_longest_chain_starts_first() -> None:
    """With one thread, the lone step x waits although listed first: a heads a chain of four."""
    work = Recorder(seconds=0)

    events = list(run_graph(["x", *ORDER], NEEDS, work, bool, threads=1))

    started = [e.name for e in events if isinstance(e, Started)]
    assert started == ["a", "b", "c", "d", "x", "e", "f"]


def test_a_limited_group_stays_within_its_size() -> None:
    work = Recorder(seconds=0.1)
    database = Limit(group="database", size=1)

    run(work, threads=4, limits={"a": database, "f": database})

    assert not any({"a", "f"} <= running for running in work.together)
    assert work.most_at_once >= 1


def test_a_failure_blocks_what_needs_it_and_nothing_else() -> None:
    work = Recorder(failing=frozenset({"b"}))

    events = run(work, threads=3)

    blocked = {e.name: e.failed for e in events if isinstance(e, Blocked)}
    assert blocked == {"d": ("b",), "e": ("d",)}, "blocking passes down the graph"
    assert set(work.ended) == {"a", "b", "c", "f"}
    done = {e.name: e.result for e in events if isinstance(e, Done)}
    assert done == {"a": True, "b": False, "c": True, "f": True}


def test_an_exception_in_a_step_propagates_after_the_others_in_flight_end() -> None:
    finished: list[str] = []

    def work(name: str) -> bool:
        if name == "b":
            raise KeyError("a bug")
        time.sleep(0.05)
        finished.append(name)
        return True

    with pytest.raises(KeyError):
        run(work, threads=3)

    assert "c" in finished, "c was in flight with b and ran to its end"
    assert "d" not in finished and "e" not in finished


def test_steps_outside_the_order_count_as_done() -> None:
    events = list(run_graph(["d", "e"], NEEDS, lambda name: True, bool, threads=2))

    assert [e.name for e in events if isinstance(e, Done)] == ["d", "e"]


def test_a_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="a cycle"):
        list(run_graph(["a", "b"], {"a": ["b"], "b": ["a"]}, lambda name: True, bool, threads=1))


def test_at_least_one_thread() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(run_graph(ORDER, NEEDS, lambda name: True, bool, threads=0))


def test_a_heavier_step_starts_before_a_longer_chain_of_light_ones() -> None:
    """Weighed by expected cost, the lone step x (10) outweighs a's chain of four steps of 1."""
    work = Recorder(seconds=0)

    events = list(run_graph(["x", *ORDER], NEEDS, work, bool, threads=1, weights={"x": 10}))

    started = [e.name for e in events if isinstance(e, Started)]
    assert started[0] == "x"
