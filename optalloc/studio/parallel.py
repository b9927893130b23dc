"""Run many tasks over one heavy shared object: serially, in a local process pool, or on Dask.

The shared object (a prepared scenario: cohort, estimates, problem arrays) is large and the
same for every task, so it is shipped once per worker: as the pool initializer's argument, or
scattered to every Dask worker with ``broadcast=True``. Each task is small (overrides, draw
indices) and so is each result (key figures, a plan vector). Results come back in task order
whatever order the workers finish in, so a parallel run returns exactly what the serial run
returns.

Local pools use the ``forkserver`` start method: forking a process whose solver thread pools
are running (HiGHS keeps one) can deadlock the child.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, TypeVar

from optalloc.errors import OptallocError

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")

_SHARED: Any = None
#: Below this many patient-solves (patients x solves) the default runs serially.
AUTO_POOL_MIN_WORK = 50_000


@dataclass(frozen=True)
class Execution:
    """Where tasks run.

    Parameters
    ----------
    workers : int or None
        Local processes; ``None`` means every core (``os.cpu_count()``), 1 means serial in
        this process.
    dask : str or None
        Address of a running Dask scheduler (``tcp://host:8786``); overrides ``workers``.
    """

    workers: int | None = None
    dask: str | None = None

    def for_work(self, patients: int, solves: int) -> Execution:
        """Resolve the default (``workers=None``) for a job: starting worker processes costs a
        few seconds (each imports the solvers), so small jobs run serially in this process."""
        if self.workers is None and not self.dask and patients * solves < AUTO_POOL_MIN_WORK:
            return Execution(workers=1)
        return self

    def n_workers(self) -> int:
        """How many tasks can run at once (the Dask cluster's total worker threads when remote)."""
        if self.dask:
            client = _dask_client(self.dask)
            return max(1, sum(client.nthreads().values()))
        return max(1, self.workers if self.workers is not None else (os.cpu_count() or 1))

    def solver_threads(self) -> int:
        """Threads per solve: all cores when serial, one per process when the pool fills them."""
        if self.dask or self.n_workers() > 1:
            return 1
        return max(1, os.cpu_count() or 1)


def _init_worker(shared: Any) -> None:
    global _SHARED
    _SHARED = shared


def _call_with_shared(func: Callable[[Any, T], R], task: T) -> R:
    return func(_SHARED, task)


_CLIENTS: dict[str, Any] = {}
PRELOAD = ["optalloc.studio.sweep", "optalloc.studio.size", "optalloc.studio.uncertainty", "optalloc.allocation.auto"]


def _forkserver() -> multiprocessing.context.BaseContext:
    """The forkserver context, with optalloc and the solvers imported once in the server so
    each worker forks ready (importing them per worker costs seconds)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _dask_client(address: str) -> Any:
    """One client per scheduler address for the life of the process."""
    if address not in _CLIENTS:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - dask[distributed] is a dependency
            raise OptallocError("--dask needs the 'distributed' package: pip install 'dask[distributed]'.") from exc
        try:
            _CLIENTS[address] = Client(address, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise OptallocError(
                f"--dask {address}: no Dask scheduler answered ({exc}). Start one with "
                "'dask scheduler' (and 'dask worker ADDRESS' on each machine) or drop --dask "
                "to use the local cores."
            ) from None
    return _CLIENTS[address]


class Runner:
    """A pool (local or Dask) holding the shared object, kept open across several rounds of
    tasks (sizing evaluates a few levels per round; starting a pool per round would cost more
    than the solves). Use as a context manager.
    """

    def __init__(self, shared: Any, execution: Execution | None = None, max_tasks: int | None = None) -> None:
        self.shared = shared
        self.execution = execution or Execution()
        self.max_tasks = max_tasks
        self._pool: ProcessPoolExecutor | None = None
        self._client: Any = None
        self._shared_future: Any = None

    def __enter__(self) -> Runner:
        if self.execution.dask:
            self._client = _dask_client(self.execution.dask)
            self._shared_future = self._client.scatter(self.shared, broadcast=True, hash=False)
        else:
            workers = self.execution.n_workers()
            if self.max_tasks is not None:
                workers = min(workers, self.max_tasks)
            if workers > 1:
                self._pool = ProcessPoolExecutor(
                    max_workers=workers,
                    mp_context=_forkserver(),
                    initializer=_init_worker,
                    initargs=(self.shared,),
                )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None:
            # The client is closed with the run: a cluster that outlives it keeps no stale
            # connection, and one that goes away leaves no client retrying to reach it.
            if self._shared_future is not None:
                self._client.cancel(self._shared_future)
                self._shared_future = None
            _CLIENTS.pop(self.execution.dask or "", None)
            self._client.close()
            self._client = None

    def map(
        self, func: Callable[[Any, T], R], tasks: Sequence[T], on_done: Callable[[int], None] | None = None
    ) -> list[R]:
        """``[func(shared, task) for task in tasks]`` in task order; ``on_done(i)`` as each ends."""
        if self._client is not None:
            return self._map_dask(func, tasks, on_done)
        if self._pool is None:
            results = []
            for i, task in enumerate(tasks):
                results.append(func(self.shared, task))
                if on_done:
                    on_done(i)
            return results
        futures = {self._pool.submit(_call_with_shared, func, task): i for i, task in enumerate(tasks)}
        by_index: dict[int, R] = {}
        for future in as_completed(futures):
            i = futures[future]
            by_index[i] = future.result()
            if on_done:
                on_done(i)
        return [by_index[i] for i in range(len(tasks))]

    def _map_dask(
        self, func: Callable[[Any, T], R], tasks: Sequence[T], on_done: Callable[[int], None] | None
    ) -> list[R]:
        from distributed import as_completed as dask_completed

        futures = [self._client.submit(func, self._shared_future, task, pure=False) for task in tasks]
        index = {future.key: i for i, future in enumerate(futures)}
        by_index: dict[int, R] = {}
        for future in dask_completed(futures, loop=self._client.loop):
            i = index[future.key]
            by_index[i] = future.result()
            if on_done:
                on_done(i)
        return [by_index[i] for i in range(len(tasks))]


def map_shared(
    func: Callable[[S, T], R],
    shared: S,
    tasks: Sequence[T],
    execution: Execution | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[R]:
    """``[func(shared, task) for task in tasks]``, run where ``execution`` says.

    ``func`` must be a module-level function (it is pickled by reference). ``on_done(i)`` is
    called in this process as task ``i`` finishes, for progress bars.
    """
    if not tasks:
        return []
    with Runner(shared, execution, max_tasks=len(tasks)) as runner:
        return runner.map(func, tasks, on_done)


def chunks(items: Sequence[T], n: int) -> list[list[T]]:
    """``items`` cut into at most ``n`` contiguous, nearly equal runs (order kept)."""
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    out, start = [], 0
    for k in range(n):
        stop = start + size + (1 if k < extra else 0)
        out.append(list(items[start:stop]))
        start = stop
    return [c for c in out if c]
