"""How many torch intra-op threads the kit's CPU work uses: one small policy, applied per call and undone after.

Why: on a 2-core machine where another process keeps one core busy, torch's default of one intra-op thread per core
made the log-mel extractor 2-4x slower than librosa (its OpenMP threads wait for a thread that is not scheduled),
while one thread kept pace with librosa (``benchmarks/bench_threads.py`` measures it). The policy:

* count the cores nobody else is using right now (:func:`idle_cores`: the cores this process may run on minus the
  tasks of other processes that are runnable now, from ``/proc/loadavg``, a busy reading confirmed over a few ms;
  on systems without it, every core counts as idle);
* use that many threads, at most what the caller's torch is set to and at least one (:func:`choose_threads`);
  small work (:func:`choose_threads`'s ``small``) gets one thread whatever the machine does: the log-mel
  extractor's chunks of <= 2**20 samples are small (one thread was as fast as two or faster on a 2-core
  machine whenever other work ran);
* apply it with :func:`cpu_threads`, a context manager that restores the caller's setting on exit, so library
  code never changes a user's global thread setting for good. On a GPU device it does nothing.

``torch.set_num_threads`` is per process with most builds (per OS thread with OpenMP): a user who runs the kit in
several Python threads at once should set one thread themselves (``torch.set_num_threads(1)``); the policy never
raises the count above theirs.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import torch

__all__ = ["choose_threads", "cpu_threads", "idle_cores", "usable_cores"]

_LOADAVG = "/proc/loadavg"
_SELF_TASKS = "/proc/self/task"
_TTL = 0.2  # seconds a reading of the other processes' runnable tasks is reused
_CONFIRM = 5  # readings that confirm a busy first reading (their median is the answer)
_GAP = 0.002  # seconds between those readings
_last: list = [-float("inf"), None]  # (time.monotonic() of the last reading, its value)


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def _own_runnable() -> int:
    """Threads of this process in state R (running or ready) now, from ``/proc/self/task/*/stat``."""
    n = 0
    for tid in os.listdir(_SELF_TASKS):
        try:
            with open(f"{_SELF_TASKS}/{tid}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:  # the thread ended between listing and reading
            continue
        n += stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] == b"R"  # the state follows the name in ()
    return n


def _reading() -> int | None:
    """One reading of the runnable tasks of other processes (see :func:`runnable_elsewhere`), None without /proc."""
    try:
        own = _own_runnable()
        with open(_LOADAVG, "rb") as fh:
            running = int(fh.read().split()[3].split(b"/")[0])
        own = max(own, _own_runnable(), 1)  # before and after: our threads may change state in between
        return max(0, running - own)
    except (OSError, IndexError, ValueError):
        return None


def runnable_elsewhere() -> int | None:
    """Tasks of other processes that are runnable now (Linux), or None where the OS does not say.

    ``/proc/loadavg``'s fourth field counts the runnable tasks of the whole system, this process's own threads
    included (at least the reading one); those are subtracted. A reading that finds some is confirmed: the answer
    is the (lower) median of it and the readings taken :data:`_GAP` seconds apart after it (:data:`_CONFIRM` in
    all, about 8 ms); readings that fail are left out, and with none left the first counts as unconfirmed (0).
    Single readings were wrong often: on an idle 2-core machine, at the start of 12 AE fits right after other work
    of the same process, 5 first readings saw one task elsewhere, and 2 ms later none (a task for a moment, or
    threads changing state between the two files read), and those fits ran on one thread and took about 35 %
    longer. A process that keeps a core busy is runnable at every reading. The answer is kept for :data:`_TTL`
    seconds, so that many short calls in a row read ``/proc`` once (a reading costs ~50 us).

    The count is system-wide, and the cores are this process's CPU affinity: a container's CPU quota (cgroups) is
    not read.
    """
    now = time.monotonic()
    if now - _last[0] < _TTL:
        return _last[1]
    value = _reading()
    if value:  # some task elsewhere: confirm it over a few ms
        seen = [value]
        for _ in range(_CONFIRM - 1):
            time.sleep(_GAP)
            r = _reading()
            if r is not None:  # a reading that failed confirms nothing
                seen.append(r)
        value = sorted(seen)[(len(seen) - 1) // 2] if len(seen) > 1 else 0  # lower median; unconfirmed: idle
    _last[:] = [time.monotonic(), value]
    return value


def idle_cores(cores: int | None = None, elsewhere: int | None = -1) -> int:
    """Cores not taken by other processes right now, at least 0.

    Parameters
    ----------
    cores : int, optional
        Cores this process may use (default :func:`usable_cores`).
    elsewhere : int or None, optional
        Runnable tasks of other processes; -1 (default) reads them with :func:`runnable_elsewhere`, None means
        unknown (every core counts as idle).

    Returns
    -------
    n : int
        ``cores - elsewhere``, clipped to ``[0, cores]``.
    """
    cores = usable_cores() if cores is None else int(cores)
    if elsewhere == -1:
        elsewhere = runnable_elsewhere()
    if elsewhere is None:
        return cores
    return min(cores, max(0, cores - int(elsewhere)))


def choose_threads(current: int, idle: int, *, small: bool = False) -> int:
    """The policy: the number of torch intra-op threads for one call of CPU work.

    Parameters
    ----------
    current : int
        The caller's torch setting (``torch.get_num_threads()``): never exceeded.
    idle : int
        Cores idle now (:func:`idle_cores`).
    small : bool
        True for work too small to gain from several threads: one thread.

    Returns
    -------
    n : int
        ``1`` if ``small``, else ``min(current, idle)``, at least 1.

    Raises
    ------
    ValueError
        If ``current < 1`` or ``idle < 0``.
    """
    if current < 1:
        raise ValueError(f"current: expected a thread count >= 1, got {current!r}")
    if idle < 0:
        raise ValueError(f"idle: expected a core count >= 0, got {idle!r}")
    if small:
        return 1
    return max(1, min(int(current), int(idle)))


@contextlib.contextmanager
def cpu_threads(device: torch.device | str = "cpu", *, small: bool = False) -> Iterator[int]:
    """Run the enclosed torch CPU work on :func:`choose_threads` threads, then restore the caller's setting.

    Parameters
    ----------
    device : torch.device or str
        Where the enclosed work runs; on anything but the CPU nothing changes.
    small : bool
        Work too small for several threads (see :func:`choose_threads`).

    Yields
    ------
    n : int
        The thread count in force inside the block.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with cpu_threads("cpu", small=True) as n:
    ...     n == torch.get_num_threads() == 1
    True
    >>> torch.get_num_threads() == before
    True
    """
    before = torch.get_num_threads()
    if torch.device(device).type != "cpu":
        yield before
        return
    n = choose_threads(before, 0 if small else idle_cores(), small=small)  # small work needs no reading
    if n == before:
        yield n
        return
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)
