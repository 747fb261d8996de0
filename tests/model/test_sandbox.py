"""Escape attempts against model.sandbox: each must fail or be contained.

Each attack runs twice where the machine allows: with every layer, and with the Python audit
hook switched off, to show that the kernel layers (rlimits, network namespace, Landlock) hold
on their own.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from model.sandbox import SandboxConfig, run_python, unshare_available

FULL = SandboxConfig(timeout_s=10)
KERNEL_ONLY = SandboxConfig(timeout_s=10, use_audit_hook=False)


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


def test_output_is_truncated() -> None:
    r = run_python("print('y' * 100000)", SandboxConfig(max_output_bytes=1000))
    assert r.passed and len(r.stdout) < 1100 and "truncated" in r.stdout
