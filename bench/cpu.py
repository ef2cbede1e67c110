"""CPU time of the processes under load, read from /proc/<pid>/stat (utime + stime, which
cover all of a process's threads) before and after each run."""

from __future__ import annotations

import os
from pathlib import Path

import psutil

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int, *, reaped_children: bool = False) -> float:
    """utime + stime of `pid`; with `reaped_children`, plus cutime + cstime (the children it
    has already waited for)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces; the fields after its ")" are positional.
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    ticks = utime + stime + (cutime + cstime if reaped_children else 0)
    return ticks / TICKS_PER_SECOND


def postmaster(data_dir: Path) -> psutil.Process | None:
    """The `postgres` process started with this DATA_DIR on its command line."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or ())
        if proc.info["name"] == "postgres" and str(data_dir) in cmdline:
            return proc
    return None


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    main = postmaster(data_dir)
    return [] if main is None else [main, *main.children(recursive=True)]


def postgres_cpu_seconds(main: psutil.Process) -> float:
    """CPU of one PostgreSQL: the postmaster, its live children (backends rename themselves,
    so their command line no longer shows DATA_DIR) and the children it has already reaped
    (a backend whose client disconnected)."""
    total = process_cpu_seconds(main.pid, reaped_children=True)
    for child in main.children(recursive=True):
        try:
            total += process_cpu_seconds(child.pid)
        except (FileNotFoundError, ProcessLookupError):
            continue  # reaped meanwhile: counted in the postmaster's children times
    return total
