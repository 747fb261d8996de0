"""Escape attempts against model.sandbox: each must fail or be contained.

Each attack runs twice where the machine allows: with every layer, and with the Python audit
hook switched off, to show that the kernel layers (rlimits, network namespace, Landlock) hold
on their own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.sandbox import SandboxConfig, SandboxUnavailable, require_sandbox, run_python, sandbox_layers, unshare_available

FULL = SandboxConfig(timeout_s=10)
KERNEL_ONLY = SandboxConfig(timeout_s=10, use_audit_hook=False)
MACHINE = sandbox_layers(FULL)
RUN_ON_ANY_MACHINE = {"test_a_missing_kernel_layer_refuses_unless_weak_is_allowed"}


@pytest.fixture(autouse=True)
def _kernel_layers(request: pytest.FixtureRequest) -> None:
    """Without every kernel layer the sandbox refuses to run (the fail-closed tests check that on any
    machine); the containment tests need a machine where it runs."""
    if not all(MACHINE.values()) and request.node.originalname not in RUN_ON_ANY_MACHINE:
        pytest.skip(f"kernel layers missing on this machine ({MACHINE}): the sandbox refuses to run code here")


def test_plain_code_runs_and_sees_only_its_temp_dir() -> None:
    code = "import math, os\nprint(math.factorial(5))\nopen('x.txt','w').write('ok')\nprint(open('x.txt').read())\nprint(os.getcwd()[::-1])"
    r = run_python(code)
    assert r.status == "passed", r.stderr
    lines = r.stdout.split()
    assert lines[0] == "120" and lines[1] == "ok"
    workdir = lines[2][::-1]  # reversed so the <sandbox> substitution of outputs leaves it alone
    assert "longterm-sandbox-" in workdir and not Path(workdir).exists(), "temp dir must be removed afterwards"


def test_failing_code_reports_failure() -> None:
    r = run_python("assert 1 == 2, 'boom'")
    assert r.status == "failed" and r.returncode == 1 and "boom" in r.stderr


def test_environment_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LONGTERM_TEST_SECRET", "s3cr3t-value")
    r = run_python("import os\nprint(sorted(os.environ))\nprint('s3cr3t-value' in repr(os.environ))")
    assert r.status == "passed", r.stderr
    assert "LONGTERM_TEST_SECRET" not in r.stdout and r.stdout.split("\n")[1] == "False"


def test_infinite_loop_is_stopped_by_cpu_limit_or_timeout() -> None:
    r = run_python("while True:\n    pass", SandboxConfig(timeout_s=5, cpu_seconds=1))
    assert r.status in {"killed", "timeout"} and not r.passed
    assert r.duration_s < 8  # the 5 s wall clock plus the kill, on a loaded machine


def test_sleeping_forever_hits_the_wall_clock_timeout() -> None:
    r = run_python("import time\ntime.sleep(60)", SandboxConfig(timeout_s=1.5))
    assert r.status == "timeout" and r.duration_s < 5


@pytest.mark.parametrize("cfg", [FULL, KERNEL_ONLY], ids=["all_layers", "kernel_only"])
def test_fork_bomb_is_contained(cfg: SandboxConfig) -> None:
    code = (
        "import os\n"
        "n = 0\n"
        "for _ in range(1000):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        os._exit(0)\n"
        "    n += 1\n"
        "print('forked', n)\n"
    )
    r = run_python(code, cfg)
    assert r.status == "failed" and "forked" not in r.stdout
    assert "BlockingIOError" in r.stderr or "PermissionError" in r.stderr, r.stderr


@pytest.mark.parametrize("cfg", [FULL, KERNEL_ONLY], ids=["all_layers", "kernel_only"])
def test_subprocess_cannot_start(cfg: SandboxConfig) -> None:
    r = run_python("import subprocess\nprint(subprocess.run(['/bin/echo', 'escaped'], capture_output=True).stdout)", cfg)
    assert r.status == "failed" and "escaped" not in r.stdout


def test_reading_a_secret_file_outside_fails(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42")
    for target in (str(secret), os.path.abspath(__file__)):
        r = run_python(f"print(open({target!r}).read())", FULL)
        assert r.status == "failed" and "TOP-SECRET-42" not in r.stdout and "PermissionError" in r.stderr


def test_reading_a_secret_file_fails_with_kernel_layers_only(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42")
    r = run_python(f"print(open({str(secret)!r}).read())", KERNEL_ONLY)
    if not r.isolation["landlock"]:
        pytest.skip("Landlock is not available on this kernel; only the audit hook guards files here")
    assert r.status == "failed" and "TOP-SECRET-42" not in r.stdout and "PermissionError" in r.stderr


def test_writing_a_file_outside_fails(tmp_path: Path) -> None:
    target = tmp_path / "planted.txt"
    r = run_python(f"open({str(target)!r}, 'w').write('x')", FULL)
    assert r.status == "failed" and not target.exists()


def test_opening_a_socket_fails() -> None:
    code = "import socket\ns = socket.create_connection(('127.0.0.1', 9), timeout=2)\nprint('connected')"
    r = run_python(code, FULL)
    assert r.status == "failed" and "connected" not in r.stdout


def test_network_is_unreachable_with_kernel_layers_only() -> None:
    if not unshare_available():
        pytest.skip("no unprivileged network namespaces here (unshare -rn fails)")
    code = "import socket\ns = socket.create_connection(('1.1.1.1', 53), timeout=2)\nprint('connected')"
    r = run_python(code, KERNEL_ONLY)
    assert r.isolation["netns"] and r.status == "failed" and "connected" not in r.stdout
    assert "OSError" in r.stderr or "PermissionError" in r.stderr or "unreachable" in r.stderr


def test_memory_limit_holds() -> None:
    r = run_python("x = bytearray(3 << 30)\nprint('allocated')", SandboxConfig(memory_bytes=512 << 20))
    assert r.status == "failed" and "MemoryError" in r.stderr


def test_file_size_limit_holds() -> None:
    code = "with open('big.bin', 'wb') as f:\n    f.write(b'x' * (4 << 20))\nprint('wrote')"
    r = run_python(code, SandboxConfig(max_file_bytes=1 << 20))
    assert not r.passed and "wrote" not in r.stdout


def test_output_past_the_cap_is_cut_and_the_child_killed() -> None:
    r = run_python("print('y' * 100000)\nprint('after')", SandboxConfig(max_output_bytes=1000))
    assert r.status == "output_limit" and not r.passed
    assert len(r.stdout) < 1100 and "truncated" in r.stdout and "after" not in r.stdout
    small = run_python("print('y' * 900)", SandboxConfig(max_output_bytes=1000))
    assert small.passed and "truncated" not in small.stdout


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_an_output_flood_is_cut_at_the_cap_with_bounded_parent_memory(stream: str) -> None:
    """64 MB written (a communicate() would hold all of it): the parent keeps about the cap."""
    import tracemalloc

    code = f"import sys\nchunk = 'z' * (1 << 20)\nfor _ in range(64):\n    sys.{stream}.write(chunk)\nprint('done')"
    tracemalloc.start()
    try:
        r = run_python(code, SandboxConfig(timeout_s=30, max_output_bytes=4096))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status == "output_limit" and len(getattr(r, stream)) < 4200 and "done" not in r.stdout
    assert peak < 4 << 20, f"the parent held {peak / 2**20:.1f} MiB while the child flooded {stream}"


# ----------------------------------------------------------------------------- fail closed


@pytest.mark.parametrize("layer,off", [("landlock", {"use_landlock": False}), ("seccomp", {"use_seccomp": False}),
                                       ("netns", {"use_unshare": False})])
def test_a_missing_kernel_layer_refuses_unless_weak_is_allowed(tmp_path: Path, layer: str, off: dict) -> None:
    planted = tmp_path / "ran.txt"
    code = f"open({str(planted)!r}, 'w').write('x')" if layer != "landlock" else "print('ran')"
    with pytest.raises(SandboxUnavailable, match=rf"{layer}.*allow_weak_sandbox"):
        run_python(code, SandboxConfig(**off))
    assert not planted.exists()
    with pytest.raises(SandboxUnavailable, match=layer):
        require_sandbox(SandboxConfig(**off))
    weak = SandboxConfig(allow_weak_sandbox=True, **off)
    r = run_python("print('ran')", weak)
    assert r.passed and r.stdout.strip() == "ran"
    assert r.isolation[layer] is False and r.isolation["weak"] is True
    assert require_sandbox(weak)[layer] is False


def test_full_sandbox_records_every_layer() -> None:
    assert require_sandbox(SandboxConfig()) == {"netns": True, "landlock": True, "seccomp": True}
    r = run_python("print(1)")
    assert r.passed and r.isolation["weak"] is False
    assert all(r.isolation[k] for k in ("netns", "landlock", "seccomp", "audit_hook", "rlimits"))


# ----------------------------------------------------------------------------- other processes
# Every attack targets only the sibling started here (in its own session), or uses signal 0 (a
# permission probe that changes nothing), so a failure of the sandbox cannot hurt anything else.


@pytest.fixture
def sibling():
    """A process of the same user that the sandboxed code will try to kill, trace or read."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


_LIBC = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nnr = {nrs}[__import__('os').uname().machine]\n"
ATTACKS = {
    "os.kill": "import os, signal\nos.kill({pid}, signal.SIGKILL)\nprint('sent')",
    "os.killpg": "import os, signal\nos.killpg({pid}, signal.SIGKILL)\nprint('sent')",
    "kill(-1, 0)": "import os\nos.kill(-1, 0)\nprint('sent')",
    "pidfd_send_signal": "import os, signal\nfd = os.pidfd_open({pid})\nsignal.pidfd_send_signal(fd, signal.SIGKILL)\nprint('sent')",
    "/proc/PID/mem": "print(open('/proc/{pid}/mem', 'rb').read(1))\nprint('sent')",
    "ctypes tgkill": _LIBC.replace("{nrs}", "{{'x86_64': 234, 'aarch64': 131}}")
    + "assert libc.syscall(nr, {pid}, {pid}, 9) == 0, ctypes.get_errno()\nprint('sent')",
    "ctypes ptrace attach": _LIBC.replace("{nrs}", "{{'x86_64': 101, 'aarch64': 117}}")
    + "assert libc.syscall(nr, 16, {pid}, 0, 0) == 0, ctypes.get_errno()\nprint('sent')",
    "ctypes process_vm_readv": _LIBC.replace("{nrs}", "{{'x86_64': 310, 'aarch64': 270}}")
    + "buf = ctypes.create_string_buffer(8)\n"
    "class IOV(ctypes.Structure):\n    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]\n"
    "local, remote = IOV(ctypes.addressof(buf), 8), IOV(0x400000, 8)\n"
    "rc = libc.syscall(nr, {pid}, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)\n"
    "assert rc >= 0 or ctypes.get_errno() not in (1, 13), ctypes.get_errno()\nprint('sent')",
}


@pytest.mark.parametrize("cfg", [FULL, KERNEL_ONLY], ids=["all_layers", "kernel_only"])
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_other_processes_cannot_be_signalled_traced_or_read(sibling, cfg: SandboxConfig, attack: str) -> None:
    r = run_python(ATTACKS[attack].format(pid=sibling.pid), cfg)
    assert "sent" not in r.stdout and r.status == "failed", (r.status, r.stdout, r.stderr)
    assert sibling.poll() is None, f"{attack} killed a process outside the sandbox"
    with open(f"/proc/{sibling.pid}/status") as f:
        status = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
    assert status["State"][0] not in "Tt" and status["TracerPid"].strip() == "0", f"{attack} stopped or traced the sibling"


def test_the_sandboxed_code_may_still_signal_itself() -> None:
    code = "import os, signal\nsignal.signal(signal.SIGUSR1, lambda *a: print('got it'))\nos.kill(os.getpid(), signal.SIGUSR1)"
    r = run_python(code, KERNEL_ONLY)
    assert r.passed and "got it" in r.stdout, r.stderr
