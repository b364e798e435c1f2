"""What the bench scripts read about a server's processes from /proc: its workers, their CPU.
Shared by the bench scripts; nothing in the application uses it."""

from __future__ import annotations

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float | None:
    """CPU seconds a process's threads have used: to the nanosecond from schedstat, else in clock ticks
    from stat. (Threads that ended are not counted: gunicorn's and PostgreSQL's live as long as the run.)"""
    try:  # every thread of it (gthread workers run requests in threads)
        total = 0
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rpartition(")")[2].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found
