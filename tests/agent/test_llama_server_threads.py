"""llama.cpp's thread count when QREACT_THREADS is unset: one per core that normal-priority work leaves free."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.backends import llama_server
from agent.backends.llama_server import auto_threads, busy_cores

# /proc/stat's first line: cpu user nice system idle iowait irq softirq steal guest guest_nice
BEFORE = "cpu  1000 5000 200 8000 10 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"


@pytest.mark.parametrize(
    ("cores", "busy", "threads"),
    [(2, 0.0, 2), (2, 0.3, 2), (2, 0.7, 1), (2, 2.0, 1), (2, 5.0, 1), (4, 1.0, 3), (4, 0.0, 4), (1, 0.0, 1)],
)
def test_auto_threads_is_one_per_free_core_and_at_least_one(cores, busy, threads):
    assert auto_threads(cores, busy) == threads


def _sampled(tmp_path: Path, monkeypatch, after: str, cores: int = 2) -> float:
    stat = tmp_path / "stat"
    stat.write_text(BEFORE)
    monkeypatch.setattr(llama_server.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(llama_server.time, "sleep", lambda s: stat.write_text(after))  # the second read sees this
    return busy_cores(0.5, stat)


def test_busy_cores_counts_normal_priority_time_only(tmp_path, monkeypatch):
    # over the sample: 100 jiffies of user + 50 of system + 50 idle out of 200 -> 1.5 of 2 cores busy
    assert _sampled(tmp_path, monkeypatch, "cpu  1100 5000 250 8050 10 0 0 0 0 0\n") == pytest.approx(1.5)
    # the same 200 jiffies spent at nice > 0 (a background job at nice 19): nothing competes with the server
    assert _sampled(tmp_path, monkeypatch, "cpu  1000 5150 200 8050 10 0 0 0 0 0\n") == pytest.approx(0.0)
    # steal and interrupts count: the hypervisor or the kernel took those cores
    assert _sampled(tmp_path, monkeypatch, "cpu  1000 5000 200 8100 10 20 30 50 0 0\n") == pytest.approx(1.0)


def test_busy_cores_is_zero_when_proc_stat_is_unreadable(tmp_path):
    assert busy_cores(0.0, tmp_path / "missing") == 0.0
    (tmp_path / "garbage").write_text("not a stat file\n")
    assert busy_cores(0.0, tmp_path / "garbage") == 0.0


def test_busy_cores_leaves_out_the_excluded_processes(tmp_path, monkeypatch):
    """A hot swap measures while the old server answers: its CPU time (and this process's) is not contention."""
    proc = tmp_path / "proc"
    (proc / "4242").mkdir(parents=True)
    pid_stat = proc / "4242" / "stat"
    # proc_pid_stat(5): pid (comm) state ... utime is field 14, stime field 15; a comm with a space and ')'
    line = "4242 (llama server) S " + " ".join(["0"] * 10) + " {utime} {stime} 0 0 20 0"
    pid_stat.write_text(line.format(utime=500, stime=100))
    stat = tmp_path / "stat"
    stat.write_text(BEFORE)
    monkeypatch.setattr(llama_server.os, "cpu_count", lambda: 2)

    def sleep(_: float) -> None:  # 150 busy jiffies of 200, 120 of them the excluded server's
        stat.write_text("cpu  1100 5000 250 8050 10 0 0 0 0 0\n")
        pid_stat.write_text(line.format(utime=600, stime=120))

    monkeypatch.setattr(llama_server.time, "sleep", sleep)
    assert busy_cores(0.5, stat, exclude=(4242, 99999), proc=proc) == pytest.approx(2 * 30 / 200)
