"""Run untrusted, model-written Python code in a contained child process.

    from model.sandbox import SandboxConfig, run_python
    result = run_python("print(1 + 1)", SandboxConfig(timeout_s=5))
    result.status      # "passed" | "failed" | "killed" | "timeout"
    result.isolation   # which layers were active, e.g. {"netns": True, "landlock": True, "seccomp": True, ...}

HumanEval (``model.evals.humaneval``) executes every completion through :func:`run_python`.

Layers, outermost first (all that the machine offers are applied; ``result.isolation``
records which ones were active):

1. **Separate process** started with ``python -I -S`` (isolated mode: no ``PYTHON*`` variables,
   no site-packages, no user site) in a **fresh temporary directory** that is deleted afterwards,
   in its own session so the whole process group is killed at the **wall-clock timeout**.
2. **Scrubbed environment**: the child sees only ``PATH``, ``HOME`` (= the temp dir), ``LANG``
   and ``TMPDIR``; none of the caller's variables (tokens, keys, cloud credentials) are passed.
3. **Resource limits** (``resource.setrlimit``, soft = hard so the code cannot raise them):
   ``RLIMIT_CPU`` (CPU seconds), ``RLIMIT_AS`` (address space), ``RLIMIT_NPROC`` (processes of this
   user: fork bombs fail with EAGAIN; the kernel ignores it for root, see 5), ``RLIMIT_FSIZE`` (largest file it can write), ``RLIMIT_NOFILE``
   and ``RLIMIT_CORE = 0``.
4. **No network**: when ``unshare -rn`` works (unprivileged user + network namespace) the child runs
   in an empty network namespace, so every connect fails with "Network is unreachable". Where the
   kernel has Landlock ABI >= 4, TCP bind/connect are also denied by the kernel.
5. **No new processes, no exec, no sockets** at the syscall level with a seccomp-BPF filter
   (x86_64 and aarch64): fork/vfork/clone/clone3 fail with EAGAIN, execve/execveat and
   socket/socketpair with EPERM. This matters because ``RLIMIT_NPROC`` is not enforced for root
   (CI containers often run as root); the filter holds for every user. Side effect: no threads.
6. **Filesystem**: with Landlock (Linux >= 5.13, ABI read at run time) the child may read only the
   Python standard library and a few system library dirs, and read/write only its temporary
   directory; anything else (your home, the repository, a secret file) is denied by the kernel.
7. **Audit hook** (``sys.addaudithook``, always installed, last): refuses ``open`` outside the temp
   dir and the standard library, socket creation, ``ctypes``, ``subprocess``/``os.system``/``exec*``/
   ``fork``/``posix_spawn``. This is the only layer on machines without namespaces or Landlock;
   Python's audit hooks are *not* a security boundary on their own (native code can bypass them),
   which is why the kernel layers above come first.

What this does not do: it is not a VM or container. Code can still burn its CPU budget, use up to
the memory limit and write up to ``max_file_bytes`` into its temp dir. Without unshare and Landlock
(e.g. macOS), containment rests on rlimits + the audit hook only; run untrusted evaluations on Linux.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

CHILD_BOOTSTRAP = Path(__file__).with_name("sandbox_child.py")


@dataclass(frozen=True)
class SandboxConfig:
    timeout_s: float = 10.0  # wall clock, whole process group killed after it
    cpu_seconds: int = 10  # RLIMIT_CPU
    memory_bytes: int = 1 << 30  # RLIMIT_AS (address space)
    max_processes: int = 1  # RLIMIT_NPROC: 1 = no new process or thread of this user can start
    max_file_bytes: int = 16 << 20  # RLIMIT_FSIZE
    max_open_files: int = 64  # RLIMIT_NOFILE
    max_output_bytes: int = 64 << 10  # stdout/stderr kept per stream
    use_unshare: bool = True  # network namespace when available
    use_landlock: bool = True  # kernel filesystem/network restriction when available
    use_seccomp: bool = True  # seccomp-BPF: no fork/clone/exec/socket syscalls (holds for root too)
    use_audit_hook: bool = True  # off only to test that the kernel layers hold on their own


@dataclass
class SandboxResult:
    status: str  # "passed" (exit 0), "failed" (non-zero exit), "killed" (by a signal, e.g. CPU limit), "timeout"
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    isolation: dict[str, bool] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def unshare_available() -> bool:
    """True when ``unshare -rn`` can create a user + network namespace here."""
    exe = shutil.which("unshare")
    if exe is None or not sys.platform.startswith("linux"):
        return False
    try:
        return subprocess.run([exe, "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def readable_system_dirs() -> list[str]:
    """Directories the child may read under Landlock: the stdlib and the system libraries."""
    dirs = {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]}
    dirs.update({"/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/share/zoneinfo"})
    return sorted(d for d in dirs if os.path.isdir(d))


def _scrubbed_env(workdir: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"}


def _decode(data: bytes | None, limit: int) -> str:
    if not data:
        return ""
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n[... output truncated]" if len(data) > limit else "")


def run_python(code: str, cfg: SandboxConfig = SandboxConfig()) -> SandboxResult:
    """Execute ``code`` as ``__main__`` in the sandbox; never raises for anything the code does."""
    workdir = tempfile.mkdtemp(prefix="longterm-sandbox-")
    try:
        program = Path(workdir, "program.py")
        program.write_text(code, encoding="utf-8")
        limits = {
            "cpu_seconds": cfg.cpu_seconds,
            "memory_bytes": cfg.memory_bytes,
            "max_processes": cfg.max_processes,
            "max_file_bytes": cfg.max_file_bytes,
            "max_open_files": cfg.max_open_files,
            "use_landlock": cfg.use_landlock,
            "use_seccomp": cfg.use_seccomp,
            "use_audit_hook": cfg.use_audit_hook,
            "workdir": workdir,
            "read_dirs": readable_system_dirs(),
        }
        netns = cfg.use_unshare and unshare_available()
        argv = [sys.executable, "-I", "-S", str(CHILD_BOOTSTRAP), str(program), json.dumps(limits)]
        if netns:
            argv = [shutil.which("unshare") or "unshare", "-rn", *argv]
        start = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            env=_scrubbed_env(workdir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = proc.communicate(timeout=cfg.timeout_s)
            status = "passed" if proc.returncode == 0 else "killed" if proc.returncode < 0 else "failed"
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
            status = "timeout"
        duration = time.monotonic() - start
        stderr = _decode(err, cfg.max_output_bytes)
        isolation = {"process": True, "scrubbed_env": True, "rlimits": True, "audit_hook": cfg.use_audit_hook, "netns": netns}
        # The bootstrap's first stderr line reports the kernel layers (written before any user code ran).
        first, _, rest = stderr.partition("\n")
        kernel_layers = {"landlock": False, "seccomp": False}
        if first.startswith("[sandbox] "):
            kernel_layers.update(json.loads(first[len("[sandbox] "):]))
            stderr = rest
        isolation.update(kernel_layers)
        # the random temp dir name would make outputs differ run to run: report it as <sandbox>
        return SandboxResult(
            status=status,
            returncode=proc.returncode,
            stdout=_decode(out, cfg.max_output_bytes).replace(workdir, "<sandbox>"),
            stderr=stderr.replace(workdir, "<sandbox>"),
            duration_s=round(duration, 3),
            isolation=isolation,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
