"""An exclusive writer lock on a local file: ``fcntl.flock``, released by the kernel when the
holder dies (even by ``kill -9``), so a crashed writer never leaves a stale lock.

    with FileLock("runs/dedup-index/LOCK", wait_s=600, purpose="dedup night 7", what="dedup index"):
        ...  # one writer at a time

The holder writes ``{"pid", "host", "since", "purpose"}`` into the file; a waiter that gives up
after ``wait_s`` raises :class:`LockTimeout` naming it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from typing import Any

from storage.errors import DatasetError


class LockTimeout(DatasetError):
    """Another run held the lock for longer than the caller would wait."""


class FileLock:
    def __init__(self, path: str, wait_s: float = 600.0, purpose: str = "", what: str = "", hint: str = "") -> None:
        self.path, self.wait_s, self.purpose = path, wait_s, purpose
        self.what = what or os.path.basename(path)
        self.hint = hint
        self.fd: int | None = None

    def __enter__(self) -> FileLock:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    try:
                        holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
                    finally:
                        os.close(fd)
                    raise LockTimeout(
                        f"{self.path}: {self.what} is locked by another run ({holder}); waited {self.wait_s:g}s"
                        + (f". {self.hint}" if self.hint else "")
                    ) from None
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), "purpose": self.purpose}
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
