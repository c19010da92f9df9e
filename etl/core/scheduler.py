"""Runs the steps of a dependency graph on a bounded pool of threads, each step as soon as
every step it needs has succeeded.

Spark jobs of one small table leave most of the machine idle (scheduling, commits, Python
round trips); several tables in flight fill it. The coordinator is the caller's thread: the
generator hands it every event in turn, so whoever renders or logs them needs no lock.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Generic, TypeVar

Result = TypeVar("Result")


@dataclass(frozen=True)
class Started:
    """A step was handed to a worker."""

    name: str


@dataclass(frozen=True)
class Done(Generic[Result]):
    """A step's work returned `result`."""

    name: str
    result: Result


@dataclass(frozen=True)
class Blocked:
    """A step did not run because steps it needs did not succeed."""

    name: str
    failed: tuple[str, ...]
    """The steps it needs directly that failed or were blocked themselves."""


GraphEvent = Started | Done[Result] | Blocked


@dataclass(frozen=True, kw_only=True)
class Limit:
    """At most `size` steps of a group in flight at once (for example: reads of one database)."""

    group: str
    size: int


def run_graph(
    order: Sequence[str],
    needs: Mapping[str, Collection[str]],
    work: Callable[[str], Result],
    succeeded: Callable[[Result], bool],
    *,
    threads: int,
    limits: Mapping[str, Limit] | None = None,
    weights: Mapping[str, float] | None = None,
    cancel: Callable[[], None] | None = None,
) -> Iterator[GraphEvent[Result]]:
    """Run `work(name)` for every step of `order`, at most `threads` at once, none before the
    steps it `needs` (those outside `order` count as done) succeeded.

    `order` is a topological order. Among steps ready together, the one heading the longest
    chain of steps that wait for it starts first (the critical path first, as build tools
    schedule: a run ends when its longest chain does), then the earlier in `order`. A chain's
    length is the sum of its steps' `weights` (their expected cost; 1 each by default).
    `limits` maps a step to the group it counts against. An exception raised by `work` is a
    bug: the steps in flight finish, no new one starts, and it propagates. An interrupt
    (Ctrl-C) calls `cancel` first, to stop the work in flight rather than wait.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, not {threads}")
    graph = _Graph(order, needs, limits or {}, weights or {})
    # Leaving the block (an exception, or the caller closing the generator) waits for the
    # steps in flight; no new one starts.
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="build") as pool:
        in_flight: dict[Future[Result], str] = {}
        try:
            while graph.waiting or in_flight:
                for name in list(graph.waiting):
                    failed = graph.failed_needs(name)
                    if failed:
                        graph.finish(name, ok=False)
                        yield Blocked(name=name, failed=failed)
                    elif len(in_flight) < threads and graph.can_start(name):
                        graph.start(name)
                        in_flight[pool.submit(work, name)] = name
                        yield Started(name=name)
                if not in_flight:
                    if graph.waiting:
                        raise ValueError(f"{graph.waiting} wait for each other: a cycle")
                    continue
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: order.index(in_flight[f])):
                    name = in_flight.pop(future)
                    result = future.result()
                    graph.finish(name, ok=succeeded(result))
                    yield Done(name=name, result=result)
        except (KeyboardInterrupt, SystemExit):
            if cancel is not None:
                cancel()
            raise


class _Graph:
    """Which steps wait, which succeeded or failed, and how full each limited group is."""

    def __init__(
        self,
        order: Sequence[str],
        needs: Mapping[str, Collection[str]],
        limits: Mapping[str, Limit],
        weights: Mapping[str, float],
    ) -> None:
        chains = _longest_chains(order, needs, weights)
        position = {name: index for index, name in enumerate(order)}
        self.waiting = sorted(order, key=lambda name: (-chains[name], position[name]))
        self._inside = set(order)
        self._needs = needs
        self._limits = limits
        self._succeeded: set[str] = set()
        self._failed: set[str] = set()
        self._per_group: dict[str, int] = {}

    def failed_needs(self, name: str) -> tuple[str, ...]:
        return tuple(n for n in self._needs.get(name, ()) if n in self._failed)

    def can_start(self, name: str) -> bool:
        needs = self._needs.get(name, ())
        if not all(n in self._succeeded or n not in self._inside for n in needs):
            return False
        limit = self._limits.get(name)
        return limit is None or self._per_group.get(limit.group, 0) < limit.size

    def start(self, name: str) -> None:
        self.waiting.remove(name)
        self._count(name, +1)

    def finish(self, name: str, *, ok: bool) -> None:
        if name in self.waiting:
            self.waiting.remove(name)
        else:
            self._count(name, -1)
        (self._succeeded if ok else self._failed).add(name)

    def _count(self, name: str, change: int) -> None:
        limit = self._limits.get(name)
        if limit is not None:
            self._per_group[limit.group] = self._per_group.get(limit.group, 0) + change


def _longest_chains(
    order: Sequence[str], needs: Mapping[str, Collection[str]], weights: Mapping[str, float]
) -> dict[str, float]:
    """For each step, the weight of the heaviest path from it through the steps that need it,
    itself included. Walks `order` backwards, so a step out of order (only in a cycle, which
    `run_graph` then refuses) counts what is known of its chain."""
    needed_by: dict[str, list[str]] = {name: [] for name in order}
    for name in order:
        for other in needs.get(name, ()):
            if other in needed_by:
                needed_by[other].append(name)
    chains: dict[str, float] = {}
    for name in reversed(order):
        heaviest = max((chains.get(later, 0.0) for later in needed_by[name]), default=0.0)
        chains[name] = weights.get(name, 1.0) + heaviest
    return chains
