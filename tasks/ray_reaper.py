"""Ends every process of a local Ray session once the driver that started it is gone.

``python -m tasks.ray_reaper ROOT`` (the cluster's private temp root, ``/tmp/ltray-*``, which
holds its session directory; watched from before ``ray.init``) with stdin the read end of a pipe that only the driver
can write: it blocks until the pipe closes (the driver exited, however: return, exception,
``kill -9``), then sends SIGTERM and, after a grace period, SIGKILL to every process of this
user that belongs to the session. Ray's GCS and raylet die with the driver on their own, but its
agents (``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) and workers outlive it.

A process belongs to the session when its command line or one of its open files names the
session directory (``/tmp/ray/session_<time>_<pid>``, unique per cluster): the agents and workers
rename themselves (``ray::IDLE``) but keep their log files under the session directory open.
Standard library only (no Ray import): it starts in milliseconds and cannot break with Ray.
"""

from __future__ import annotations

import os
import signal
import sys
import time

GRACE_S = 3.0


def _names_session(path: str, session_dir: str) -> bool:
    return path == session_dir or path.startswith(session_dir + os.sep)


def session_pids(session_dir: str) -> list[int]:
    """Pids of this user's processes whose command line or open files name ``session_dir``."""
    session_dir = os.path.realpath(session_dir)
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        base = f"/proc/{entry}"
        try:
            cmdline = open(f"{base}/cmdline", "rb").read().decode("utf-8", "replace")
            if session_dir in cmdline:
                found.append(int(entry))
                continue
            for fd in os.listdir(f"{base}/fd"):
                if _names_session(os.readlink(f"{base}/fd/{fd}"), session_dir):
                    found.append(int(entry))
                    break
        except OSError:  # gone, or another user's process
            continue
    return found


def reap(session_dir: str, grace_s: float = GRACE_S) -> list[int]:
    """SIGTERM the session's processes, SIGKILL what is left after ``grace_s``; return the pids signalled."""
    pids = session_pids(session_dir)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and session_pids(session_dir):
        time.sleep(0.2)
    for pid in session_pids(session_dir):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return pids


def main() -> None:
    session_dir = sys.argv[1]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal Ctrl-C is for the driver
    while sys.stdin.buffer.read(65536):
        pass  # nothing is ever written: wait for end-of-file
    reap(session_dir)


if __name__ == "__main__":
    main()
