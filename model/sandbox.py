"""Run untrusted, model-written Python code in a contained child process.

    from model.sandbox import SandboxConfig, run_python
    result = run_python("print(1 + 1)", SandboxConfig(timeout_s=5))
    result.status      # "passed" | "failed" | "killed" | "timeout" | "output_limit"
    result.isolation   # which layers were active, e.g. {"netns": True, "landlock": True, "seccomp": True, ...}
    sandbox_layers()   # what this machine offers, probed once: {"netns": ..., "landlock": ..., "seccomp": ...}

HumanEval (``model.evals.humaneval``) executes every completion through :func:`run_python`.

**Fail closed.** The kernel layers (network namespace, Landlock, seccomp) are required: where one
is unavailable (or switched off in the config), :func:`run_python` raises
:class:`SandboxUnavailable` naming it, before any of the code runs (the child checks again after
applying them and refuses, so nothing runs weaker than promised). ``allow_weak_sandbox=True``
(``longterm eval --allow-weak-sandbox``) runs with what there is; ``result.isolation`` records the
layers in effect either way, and every HumanEval sample and summary carries it.

Layers, outermost first (``result.isolation`` records which ones were active):

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
5. **No new processes, no exec, no sockets, no other processes** at the syscall level with a
   seccomp-BPF filter (x86_64 and aarch64): fork/vfork/clone/clone3 fail with EAGAIN, execve/execveat,
   socket/socketpair and io_uring with EPERM; so do kill/tkill/tgkill/rt_sigqueueinfo/rt_tgsigqueueinfo
   aimed at any pid but the child's own (kill(-1), process groups, a sibling), pidfd_open /
   pidfd_send_signal / pidfd_getfd, ptrace, process_vm_readv/writev, process_madvise and kcmp. This
   matters because ``RLIMIT_NPROC`` is not enforced for root and root may signal or trace every root
   process (CI containers often run as root); the filter holds for every user. Side effect: no threads.
6. **Filesystem**: with Landlock (Linux >= 5.13, ABI read at run time) the child may read only the
   Python standard library and a few system library dirs, and read/write only its temporary
   directory; anything else (your home, the repository, a secret file) is denied by the kernel.
7. **Audit hook** (``sys.addaudithook``, always installed, last): refuses ``open`` outside the temp
   dir and the standard library, socket creation, ``ctypes``, ``subprocess``/``os.system``/``exec*``/
   ``fork``/``posix_spawn``. This is the only layer on machines without namespaces or Landlock;
   Python's audit hooks are *not* a security boundary on their own (native code can bypass them),
   which is why the kernel layers above come first.

8. **Output cap while streaming**: stdout and stderr are read as they come; a stream that passes
   ``max_output_bytes`` gets the child's process group killed (status ``output_limit``), so the parent
   never holds more than the cap per stream, however much the code prints.

What this does not do: it is not a VM or container. Code can still burn its CPU budget, use up to
the memory limit and write up to ``max_file_bytes`` into its temp dir. Without unshare and Landlock
(e.g. macOS) the sandbox refuses to run unless ``allow_weak_sandbox`` is set, and then containment
rests on rlimits + the audit hook only; run untrusted evaluations on Linux.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

CHILD_BOOTSTRAP = Path(__file__).with_name("sandbox_child.py")
KERNEL_LAYERS = ("netns", "landlock", "seccomp")  # required unless allow_weak_sandbox
REFUSED_EXIT = 97  # sandbox_child.REFUSED_EXIT: a required layer could not be applied
READ_CHUNK = 1 << 16


class SandboxUnavailable(RuntimeError):
    """A kernel layer the sandbox requires is not in effect; the code was not run."""


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
    allow_weak_sandbox: bool = False  # run even when netns / Landlock / seccomp is unavailable or off

    def required_layers(self) -> list[str]:
        return [] if self.allow_weak_sandbox else list(KERNEL_LAYERS)


@dataclass
class SandboxResult:
    status: str  # "passed" (exit 0), "failed" (non-zero exit), "killed" (by a signal, e.g. CPU limit), "timeout", "output_limit"
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


def _decode(data: bytes, limit: int, truncated: bool) -> str:
    text = data[:limit].decode("utf-8", errors="replace")
    return text + ("\n[... output truncated]" if truncated or len(data) > limit else "")


def _refusal(missing: list[str], detail: str = "") -> SandboxUnavailable:
    return SandboxUnavailable(
        f"sandbox: refusing to run untrusted code: kernel layer(s) {', '.join(missing)} not in effect on this machine"
        f"{detail} (network namespace: `unshare -rn` must work; Landlock: Linux >= 5.13 with landlock in the LSM list; "
        f"seccomp: Linux on x86_64/aarch64). Pass allow_weak_sandbox=True (longterm eval --allow-weak-sandbox) to run "
        f"with only the layers that are available; results then record which were in effect"
    )


class _StreamCap:
    """Reads a child's stdout and stderr as they come, keeping at most ``limit`` bytes of each."""

    def __init__(self, proc: subprocess.Popen, limit: int) -> None:
        self.proc = proc
        self.limit = limit
        self.kept = {"stdout": bytearray(), "stderr": bytearray()}
        self.header = bytearray()  # the bootstrap's first stderr line, not counted against the cap
        self.header_done = False
        self.exceeded = False

    def _add(self, name: str, data: bytes) -> None:
        if name == "stderr" and not self.header_done:
            nl = data.find(b"\n")
            if nl < 0 and len(self.header) + len(data) <= 4096:
                self.header += data
                return
            cut = nl + 1 if nl >= 0 else 0
            self.header += data[:cut]
            self.header_done = True
            data = data[cut:]
        buf = self.kept[name]
        room = self.limit + 1 - len(buf)  # one byte over the cap marks the stream as truncated
        if room > 0:
            buf += data[:room]
        if len(data) > max(room, 0) or len(buf) > self.limit:
            self.exceeded = True

    def run(self, timeout_s: float) -> str:
        """Read until both streams end; kill the process group on timeout or a passed cap; return why it ended."""
        sel = selectors.DefaultSelector()
        for name in ("stdout", "stderr"):
            stream = getattr(self.proc, name)
            os.set_blocking(stream.fileno(), False)
            sel.register(stream, selectors.EVENT_READ, name)
        deadline = time.monotonic() + timeout_s
        ended = "exited"
        try:
            while sel.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    ended = "timeout"
                    break
                for key, _ in sel.select(timeout=min(left, 0.5)):
                    data = os.read(key.fileobj.fileno(), READ_CHUNK)
                    if not data:
                        sel.unregister(key.fileobj)
                        continue
                    self._add(key.data, data)
                if self.exceeded:
                    ended = "output_limit"
                    break
        finally:
            sel.close()
        if ended != "exited":
            _kill_group(self.proc)
        return ended


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@lru_cache(maxsize=8)
def _child_layers(cfg: SandboxConfig) -> tuple[bool, bool]:
    """(landlock, seccomp) as a child under ``cfg`` gets them: probed once by running ``pass``."""
    probe = replace(cfg, allow_weak_sandbox=True, timeout_s=max(cfg.timeout_s, 30.0), cpu_seconds=max(cfg.cpu_seconds, 10))
    isolation = run_python("pass", probe).isolation
    return bool(isolation["landlock"]), bool(isolation["seccomp"])


def sandbox_layers(cfg: SandboxConfig = SandboxConfig()) -> dict[str, bool]:
    """The kernel layers this machine gives a sandboxed child under ``cfg``:
    ``{"netns": ..., "landlock": ..., "seccomp": ...}``."""
    landlock, seccomp = _child_layers(cfg)
    return {"netns": bool(cfg.use_unshare and unshare_available()), "landlock": landlock, "seccomp": seccomp}


def require_sandbox(cfg: SandboxConfig) -> dict[str, bool]:
    """The layers in effect under ``cfg``; raises :class:`SandboxUnavailable` when a required one is not.

    Call it before spending time on work whose results would then go unchecked (HumanEval's generation).
    """
    layers = sandbox_layers(cfg)
    missing = [name for name in cfg.required_layers() if not layers[name]]
    if missing:
        raise _refusal(missing)
    return layers


def run_python(code: str, cfg: SandboxConfig = SandboxConfig()) -> SandboxResult:
    """Execute ``code`` as ``__main__`` in the sandbox; never raises for anything the code does.

    Raises :class:`SandboxUnavailable` (and runs nothing) when a required kernel layer is not in
    effect and ``cfg.allow_weak_sandbox`` is False.
    """
    netns = cfg.use_unshare and unshare_available()
    if "netns" in cfg.required_layers() and not netns:
        raise _refusal(["netns"], "" if cfg.use_unshare else " (use_unshare=False)")
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
            "require": [name for name in cfg.required_layers() if name != "netns"],
            "workdir": workdir,
            "read_dirs": readable_system_dirs(),
        }
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
            cap = _StreamCap(proc, cfg.max_output_bytes)
            ended = cap.run(cfg.timeout_s)
            proc.wait()
        finally:
            if proc.poll() is None:
                _kill_group(proc)
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        duration = time.monotonic() - start
        if ended != "exited":
            status = ended
        else:
            status = "passed" if proc.returncode == 0 else "killed" if proc.returncode < 0 else "failed"
        isolation = {"process": True, "scrubbed_env": True, "rlimits": True, "audit_hook": cfg.use_audit_hook, "netns": netns}
        # The bootstrap's first stderr line reports the kernel layers (written before any user code ran).
        header = bytes(cap.header).decode("utf-8", errors="replace").strip()
        kernel_layers = {"landlock": False, "seccomp": False}
        if header.startswith("[sandbox] "):
            kernel_layers.update(json.loads(header[len("[sandbox] "):]))
        isolation.update(kernel_layers)
        isolation["weak"] = not all(isolation[name] for name in KERNEL_LAYERS)
        stderr = _decode(bytes(cap.kept["stderr"]), cfg.max_output_bytes, ended == "output_limit")
        if proc.returncode == REFUSED_EXIT and stderr.startswith("[sandbox refused]"):
            missing = [name for name in limits["require"] if not isolation.get(name)]
            raise _refusal(missing or ["?"], f" ({stderr.strip()})")
        # the random temp dir name would make outputs differ run to run: report it as <sandbox>
        return SandboxResult(
            status=status,
            returncode=proc.returncode,
            stdout=_decode(bytes(cap.kept["stdout"]), cfg.max_output_bytes, ended == "output_limit").replace(workdir, "<sandbox>"),
            stderr=stderr.replace(workdir, "<sandbox>"),
            duration_s=round(duration, 3),
            isolation=isolation,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
