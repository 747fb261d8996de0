"""Bootstrap of a sandboxed child (see ``model/sandbox.py``); never imported by the parent.

    python -I -S model/sandbox_child.py PROGRAM.py '{"cpu_seconds": 10, ...}'

Applies, in this order: resource limits, Landlock (filesystem + TCP, when the kernel has it),
seccomp (no fork/clone/exec/socket syscalls; no signal, pidfd, ptrace or process_vm access to
any other process), an audit hook; then runs PROGRAM as ``__main__``. When a layer named in the
config's ``require`` list could not be applied, it refuses (exit status ``REFUSED_EXIT``) before
any of PROGRAM runs. Uses the standard library only.
"""

from __future__ import annotations

import builtins
import json
import os
import resource
import sys

sys.dont_write_bytecode = True

# Landlock constants (linux/landlock.h); the syscall numbers are the same on every architecture.
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 2, 1 << 3
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
EAGAIN, EPERM = 11, 1
REFUSED_EXIT = 97  # a required layer is missing: nothing of the program ran
# (audit arch, {syscall: errno}) per machine: process creation fails like RLIMIT_NPROC would
# (EAGAIN); exec, sockets, io_uring (whose operations would bypass this filter), pidfd_open /
# pidfd_send_signal / pidfd_getfd, ptrace, process_vm_readv/writev, process_madvise and kcmp with
# EPERM. Blocking clone also means no threads in the child.
SECCOMP_TABLES = {
    "x86_64": (0xC000003E, {
        56: EAGAIN, 57: EAGAIN, 58: EAGAIN, 435: EAGAIN,  # clone, fork, vfork, clone3
        59: EPERM, 322: EPERM, 41: EPERM, 53: EPERM,  # execve, execveat, socket, socketpair
        425: EPERM, 426: EPERM, 427: EPERM,  # io_uring_setup, io_uring_enter, io_uring_register
        434: EPERM, 424: EPERM, 438: EPERM,  # pidfd_open, pidfd_send_signal, pidfd_getfd
        101: EPERM, 310: EPERM, 311: EPERM, 440: EPERM, 312: EPERM,  # ptrace, process_vm_readv/writev, process_madvise, kcmp
    }),
    "aarch64": (0xC00000B7, {
        220: EAGAIN, 435: EAGAIN,  # clone, clone3
        221: EPERM, 281: EPERM, 198: EPERM, 199: EPERM,  # execve, execveat, socket, socketpair
        425: EPERM, 426: EPERM, 427: EPERM,
        434: EPERM, 424: EPERM, 438: EPERM,
        117: EPERM, 270: EPERM, 271: EPERM, 440: EPERM, 272: EPERM,
    }),
}
# signal syscalls whose first argument is a pid / thread group id: allowed only when it is the
# child's own pid (so Python's own signal handling, raise() and abort() still work), else EPERM.
# kill(-1) (every process), kill(0) / negative pids (process groups) and any other pid are refused.
SELF_ONLY_SYSCALLS = {
    "x86_64": (62, 200, 234, 129, 297),  # kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo
    "aarch64": (129, 130, 131, 138, 240),
}

BLOCKED_EVENT_PREFIXES = (
    "socket.",
    "ctypes.",
    "subprocess.",
    "os.exec",
    "os.spawn",
    "os.posix_spawn",
    "os.fork",
    "os.system",
    "os.kill",
    "os.killpg",
    "pty.",
    "webbrowser.",
    "urllib.",
    "http.",
    "ftplib.",
    "smtplib.",
    "sys.addaudithook",
)
BLOCKED_IMPORTS = {"ctypes", "_ctypes"}


def set_limits(cfg: dict) -> None:
    for name, key in (
        ("RLIMIT_CPU", "cpu_seconds"),
        ("RLIMIT_AS", "memory_bytes"),
        ("RLIMIT_NPROC", "max_processes"),
        ("RLIMIT_FSIZE", "max_file_bytes"),
        ("RLIMIT_NOFILE", "max_open_files"),
    ):
        value = int(cfg[key])
        resource.setrlimit(getattr(resource, name), (value, value))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def apply_landlock(workdir: str, read_dirs: list[str]) -> bool:
    """Restrict this process to reading ``read_dirs`` and using ``workdir``; False when unsupported."""
    import ctypes

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64)]

    class PathBeneathAttr(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                       ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    if abi < 1:
        return False
    fs_all = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        fs_all |= 1 << 13  # REFER
    if abi >= 3:
        fs_all |= 1 << 14  # TRUNCATE
    if abi >= 5:
        fs_all |= 1 << 15  # IOCTL_DEV
    attr = RulesetAttr(fs_all, (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0)
    size = ctypes.sizeof(RulesetAttr) if abi >= 4 else 8
    ruleset_fd = libc.syscall(ctypes.c_long(SYS_LANDLOCK_CREATE_RULESET), ctypes.byref(attr),
                              ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset_fd < 0:
        return False
    rules = [(d, FS_EXECUTE | FS_READ_FILE | FS_READ_DIR) for d in read_dirs] + [(workdir, fs_all)]
    for path, access in rules:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        rule = PathBeneathAttr(access, fd)
        rc = libc.syscall(ctypes.c_long(SYS_LANDLOCK_ADD_RULE), ctypes.c_int(ruleset_fd),
                          ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule), ctypes.c_uint32(0))
        os.close(fd)
        if rc != 0:
            os.close(ruleset_fd)
            return False
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    ok = libc.syscall(ctypes.c_long(SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)) == 0
    os.close(ruleset_fd)
    return ok


def apply_seccomp() -> bool:
    """Deny fork/clone/exec/socket syscalls and any access to other processes with a seccomp-BPF
    filter; False when unsupported.

    This holds even when the sandbox runs as root, where RLIMIT_NPROC is not enforced and the
    kernel's own permission checks let a process signal or trace every other root process.
    """
    import ctypes

    machine = os.uname().machine
    arch, blocked = SECCOMP_TABLES.get(machine, (None, None))
    if arch is None:
        return False
    own_pid = os.getpid()

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    deny_foreign = SECCOMP_RET_ERRNO | EPERM
    prog = [
        (ld_abs, 0, 0, 4),  # seccomp_data.arch
        (jeq, 1, 0, arch),
        (ret, 0, 0, deny_foreign),  # another ABI (e.g. int 0x80): refuse everything
        (ld_abs, 0, 0, 0),  # seccomp_data.nr
        (jge, 0, 1, 0x40000000),  # x32 syscall numbers
        (ret, 0, 0, deny_foreign),
    ]
    for nr, errno in sorted(blocked.items()):
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, SECCOMP_RET_ERRNO | errno)]
    for nr in SELF_ONLY_SYSCALLS[machine]:
        prog += [
            (jeq, 0, 4, nr),  # not this syscall: skip the 4 instructions of its check
            (ld_abs, 0, 0, 16),  # seccomp_data.args[0], low 32 bits (little-endian): the pid_t argument
            (jeq, 0, 1, own_pid),
            (ret, 0, 0, SECCOMP_RET_ALLOW),
            (ret, 0, 0, SECCOMP_RET_ERRNO | EPERM),
        ]
    prog.append((ret, 0, 0, SECCOMP_RET_ALLOW))
    filters = (SockFilter * len(prog))(*[SockFilter(*ins) for ins in prog])
    fprog = SockFprog(len(prog), filters)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) == 0


def install_audit_hook(allowed_dirs: list[str]) -> None:
    allowed = [os.path.realpath(d) for d in allowed_dirs]
    realpath = os.path.realpath

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path = args[0]
            if isinstance(path, int) or path is None:
                return
            p = realpath(os.fsdecode(path))
            if not any(p == d or p.startswith(d + os.sep) for d in allowed):
                raise PermissionError(f"sandbox: opening {p} is not allowed")
        elif event == "import" and args and str(args[0]).split(".")[0] in BLOCKED_IMPORTS:
            raise PermissionError(f"sandbox: import of {args[0]} is not allowed")
        elif event.startswith(BLOCKED_EVENT_PREFIXES):
            raise PermissionError(f"sandbox: {event} is not allowed")

    sys.addaudithook(hook)


def main() -> None:
    program, cfg = sys.argv[1], json.loads(sys.argv[2])
    workdir = cfg["workdir"]
    set_limits(cfg)
    landlock = False
    if cfg.get("use_landlock", True) and sys.platform.startswith("linux"):
        try:
            landlock = apply_landlock(workdir, cfg["read_dirs"])
        except (OSError, AttributeError):
            landlock = False
    seccomp = False
    if cfg.get("use_seccomp", True) and sys.platform.startswith("linux"):
        try:
            seccomp = apply_seccomp()
        except (OSError, AttributeError):
            seccomp = False
    sys.modules.pop("ctypes", None)
    layers = {"landlock": landlock, "seccomp": seccomp}
    sys.stderr.write("[sandbox] " + json.dumps(layers) + "\n")
    sys.stderr.flush()
    missing = [name for name in cfg.get("require", []) if not layers.get(name, False)]
    if missing:  # fail closed: not a line of the untrusted program runs without the required layers
        sys.stderr.write(f"[sandbox refused] kernel layer(s) not in effect: {', '.join(missing)}\n")
        sys.stderr.flush()
        os._exit(REFUSED_EXIT)
    with open(program, encoding="utf-8") as f:
        source = f.read()
    code = compile(source, program, "exec")
    if cfg.get("use_audit_hook", True):
        install_audit_hook([workdir, *cfg["read_dirs"]])
    sys.argv = [program]
    exec(code, {"__name__": "__main__", "__file__": program, "__builtins__": builtins})


if __name__ == "__main__":
    main()
