"""llama.cpp's thread count when QREACT_THREADS is unset: one per core that competing work leaves free."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.backends import llama_server
from agent.backends.llama_server import auto_threads, busy_cores

OWN = os.getpid()


@pytest.mark.parametrize(
    ("cores", "busy", "threads"),
    [(2, 0.0, 2), (2, 0.3, 2), (2, 0.7, 1), (2, 2.0, 1), (2, 5.0, 1), (4, 1.0, 3), (4, 0.0, 4), (1, 0.0, 1)],
)
def test_auto_threads_is_one_per_free_core_and_at_least_one(cores, busy, threads):
    assert auto_threads(cores, busy) == threads


def _process(proc: Path, pid: int, jiffies: int, nice: int = 0, group: str = "/autogroup-1 nice 0") -> None:
    """A /proc/PID with stat (utime = jiffies, stime 0, that nice; a comm with a space and a ')') and autogroup."""
    folder = proc / str(pid)
    folder.mkdir(parents=True, exist_ok=True)
    # proc_pid_stat(5): pid (comm) state, then fields 4-13, utime (14), stime (15), 16-18, nice (19)
    (folder / "stat").write_text(f"{pid} (a b) c) R " + "0 " * 10 + f"{jiffies} 0 0 0 20 {nice} 1 0\n")
    (folder / "autogroup").write_text(group + "\n")


def _busy(tmp_path: Path, monkeypatch, autogroups: bool, processes: list[tuple], after: dict[int, int]) -> float:
    """busy_cores over a fake /proc: each process as given, then each pid's jiffies in ``after`` by the second look."""
    proc = tmp_path / "proc"
    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "sys" / "kernel" / "sched_autogroup_enabled").write_text("1\n" if autogroups else "0\n")
    for args in processes:
        _process(proc, *args)
    clock = iter([100.0, 101.0])  # the sample: one second
    monkeypatch.setattr(llama_server.os, "sysconf", lambda name: 100)  # 100 jiffies per second
    monkeypatch.setattr(llama_server.time, "monotonic", lambda: next(clock))

    def sleep(_: float) -> None:
        for pid, jiffies in after.items():
            nice_group = next(p for p in processes if p[0] == pid)[2:]
            _process(proc, pid, jiffies, *nice_group)

    monkeypatch.setattr(llama_server.time, "sleep", sleep)
    return busy_cores(1.0, proc=proc, exclude=(4242,))


def test_normal_priority_processes_compete_and_low_priority_ones_do_not(tmp_path, monkeypatch):
    processes = [
        (OWN, 0, 0, "/autogroup-1 nice 0"),  # this process: its group is the reference
        (10, 0, 0, "/autogroup-2 nice 0"),  # another session, normal priority: competes
        (11, 0, 19, "/autogroup-3 nice 0"),  # nice 19 alone in its own group: the group still gets a full share
        (12, 0, 0, "/autogroup-4 nice 19"),  # its group at nice 19 (this session's rule for background jobs)
        (13, 0, 19, "/autogroup-1 nice 0"),  # nice 19 in this process's group
        (4242, 0, 0, "/autogroup-1 nice 0"),  # the server being replaced: excluded
    ]
    after = {10: 50, 11: 30, 12: 100, 13: 100, 4242: 100}
    assert _busy(tmp_path, monkeypatch, True, processes, after) == pytest.approx(0.8)  # 50 + 30 jiffies in 1 s


def test_a_process_started_during_the_sample_counts_with_all_its_time(tmp_path, monkeypatch):
    processes = [(OWN, 0, 0, "/autogroup-1 nice 0"), (10, 0, 0, "/autogroup-2 nice 0")]
    proc = tmp_path / "proc"

    def sleep(_: float) -> None:  # pid 10 appears (a compiler started by a build) and used 60 jiffies
        _process(proc, 10, 60)

    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "sys" / "kernel" / "sched_autogroup_enabled").write_text("1\n")
    _process(proc, *processes[0])
    clock = iter([100.0, 101.0])
    monkeypatch.setattr(llama_server.os, "sysconf", lambda name: 100)
    monkeypatch.setattr(llama_server.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(llama_server.time, "sleep", sleep)
    assert busy_cores(1.0, proc=proc) == pytest.approx(0.6)


def test_without_autogroups_only_the_process_nice_matters(tmp_path, monkeypatch):
    processes = [(OWN, 0, 0, "/autogroup-1 nice 0"), (10, 0, 0, "/autogroup-2 nice 0"),
                 (11, 0, 19, "/autogroup-3 nice 0"), (12, 0, 0, "/autogroup-4 nice 19")]  # fmt: skip
    assert _busy(tmp_path, monkeypatch, False, processes, {10: 50, 11: 30, 12: 40}) == pytest.approx(0.9)


def test_busy_cores_is_zero_when_proc_cannot_be_read(tmp_path):
    assert busy_cores(0.0, proc=tmp_path / "missing") == 0.0
