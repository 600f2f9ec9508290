"""Landlock for the processes lanectl starts for agents: a ruleset an exec wrapper applies.

    rules = Rules(read=("/usr", worktree), write=(worktree,), network=False)
    argv = wrap(["python3", "-m", "pytest"], rules)   # start this instead
    # [sys.executable, "-I", "-m", "lanectl.sandbox", '{"v":1,…}', "--", "python3", …]

The wrapper (``python -m lanectl.sandbox RULES -- PROGRAM ARGS…``) sets
``no_new_privs``, creates a Landlock ruleset that handles every filesystem
right the running kernel knows, allows reading and executing beneath
``read`` paths and everything beneath ``write`` paths, denies every TCP bind
and connect when ``network`` is false (ABI 4+), scopes signals and abstract
UNIX sockets to the sandbox (ABI 6+), restricts itself and executes the
program, which inherits the restriction with everything it starts. Only the
wrapper's own process is restricted, never lanectl: it is the thread-safe
stand-in for ``preexec_fn`` (dispatch runs builds in threads). ADR 0032.

The rules are paths and one flag, never a credential. ``LANECTL_SANDBOX=off``
makes :func:`abi` answer 0, as on a kernel without Landlock. This module
imports only ``os``, ``sys`` and ``json`` at the top (``ctypes`` and
``signal`` when it applies a ruleset): the wrapper starts for every check.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Sequence

OFF_SWITCH = "LANECTL_SANDBOX"  # "off": behave as if the kernel had no Landlock
# landlock_create_ruleset, landlock_add_rule, landlock_restrict_self: the same numbers on
# x86_64 (arch/x86/entry/syscalls/syscall_64.tbl) and aarch64 (asm-generic/unistd.h).
SYSCALLS = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446), "arm64": (444, 445, 446)}
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CAPABILITY_VERSION_3 = 0x20080522
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_ABI1 = (1 << 13) - 1  # EXECUTE … MAKE_SYM
FS_REFER = 1 << 13  # ABI 2: link and rename across directories
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

READ = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
FILE_ONLY = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
DENIED = 126  # the wrapper could not confine the program, or may not execute it
NOT_FOUND = 127

_probe: tuple[int, str] | None = None


class SandboxError(Exception):
    """The ruleset could not be built or applied; the program was not started."""


def fs_rights(version: int) -> int:
    """Every filesystem right Landlock ABI ``version`` can handle."""
    rights = FS_ABI1
    if version >= 2:
        rights |= FS_REFER
    if version >= 3:
        rights |= FS_TRUNCATE
    if version >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _kernel() -> tuple[int, str]:
    """(ABI version, why 0) of the running kernel, probed once."""
    global _probe
    if _probe is None:
        _probe = _ask_kernel()
    return _probe


def _ask_kernel() -> tuple[int, str]:
    if not sys.platform.startswith("linux"):
        return 0, f"Landlock is a Linux feature and this is {sys.platform}"
    machine = os.uname().machine
    if machine not in SYSCALLS:
        return 0, f"lanectl knows Landlock's system calls on x86_64 and aarch64, not {machine}"
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    create = SYSCALLS[machine][0]
    version = int(
        libc.syscall(
            ctypes.c_long(create), None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION)
        )
    )
    if version >= 1:
        return version, ""
    err = ctypes.get_errno()
    import errno

    if err == errno.EOPNOTSUPP:
        return 0, "Landlock is built into this kernel but not enabled (add landlock to lsm=)"
    return 0, f"this kernel ({os.uname().release}) has no Landlock (it needs Linux 5.13 or newer)"


def abi() -> int:
    """The Landlock ABI agent processes get: 0 when there is none (or ``LANECTL_SANDBOX=off``)."""
    if os.environ.get(OFF_SWITCH, "").strip().lower() == "off":
        return 0
    return _kernel()[0]


def unavailable_reason() -> str:
    """Why :func:`abi` is 0 (empty when it is not)."""
    if os.environ.get(OFF_SWITCH, "").strip().lower() == "off":
        return f"{OFF_SWITCH}=off is set in lanectl's environment"
    return _kernel()[1]


class Rules:
    """What a sandboxed process may touch: paths beneath ``read`` (read and execute),
    beneath ``write`` (everything), TCP when ``network``. ``required``: refuse to start the
    program when Landlock is unavailable (it is not sent to the wrapper)."""

    __slots__ = ("network", "read", "required", "write")

    def __init__(
        self,
        read: Sequence[str] = (),
        write: Sequence[str] = (),
        *,
        network: bool = True,
        required: bool = False,
    ) -> None:
        self.read = tuple(read)
        self.write = tuple(write)
        self.network = network
        self.required = required

    def __repr__(self) -> str:
        return (
            f"Rules(read={self.read!r}, write={self.write!r}, network={self.network}, "
            f"required={self.required})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rules) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    def with_network(self, network: bool) -> Rules:
        return Rules(self.read, self.write, network=network, required=self.required)

    def encode(self) -> str:
        data = {"v": 1, "read": list(self.read), "write": list(self.write), "net": self.network}
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> Rules:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("v") != 1:
            raise SandboxError("not a version 1 ruleset")
        read, write, net = data.get("read"), data.get("write"), data.get("net")
        if not isinstance(read, list) or not isinstance(write, list) or not isinstance(net, bool):
            raise SandboxError("a ruleset needs read and write lists and a net flag")
        if not all(isinstance(p, str) and p.startswith("/") for p in [*read, *write]):
            raise SandboxError("every path of a ruleset must be absolute")
        return cls(read, write, network=net)


def wrap(argv: Sequence[str], rules: Rules) -> list[str]:
    """The argv that runs ``argv`` under ``rules`` (``-I``: nothing of the working directory,
    ``PYTHON*`` or the user's site-packages is imported before the ruleset holds)."""
    return [sys.executable, "-I", "-m", "lanectl.sandbox", rules.encode(), "--", *argv]


def apply(rules: Rules, version: int | None = None) -> None:
    """Restrict the calling process (and everything it starts) to ``rules``, for good:
    first every capability goes (root's would lift the limits Landlock leaves to the
    kernel's other checks: ptrace of lanectl itself, raw devices, kernel modules), then
    ``no_new_privs``, then the ruleset."""
    version = _kernel()[0] if version is None else version
    if version < 1:
        raise SandboxError(_kernel()[1] or "Landlock is not available")
    sys_ = _Sys(os.uname().machine)
    sys_.drop_capabilities()
    sys_.prctl(PR_SET_NO_NEW_PRIVS, 1)
    handled = fs_rights(version)
    net = 0 if rules.network or version < 4 else NET_BIND_TCP | NET_CONNECT_TCP
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if version >= 6 else 0
    ruleset = sys_.create_ruleset(handled, net, scoped, version)
    try:
        grants = [(p, handled) for p in rules.write] + [(p, READ) for p in rules.read]
        for path, rights in grants:
            try:
                target = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # what does not exist here cannot be reached either
            try:
                if not stat.S_ISDIR(os.fstat(target).st_mode):
                    rights &= FILE_ONLY
                sys_.add_path_rule(ruleset, rights, target, path)
            finally:
                os.close(target)
        sys_.restrict_self(ruleset)
    finally:
        os.close(ruleset)


class _Sys:
    """The system calls :func:`apply` makes, through ctypes."""

    def __init__(self, machine: str) -> None:
        import ctypes

        self.numbers = SYSCALLS[machine]
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long

    def _error(self, what: str) -> SandboxError:
        import ctypes

        return SandboxError(f"{what}: {os.strerror(ctypes.get_errno())}")

    def _syscall(self, index: int, *args: object) -> int:
        import ctypes

        return int(self.libc.syscall(ctypes.c_long(self.numbers[index]), *args))

    def prctl(self, option: int, arg: int, *, check: bool = True) -> None:
        from ctypes import c_int, c_ulong

        zero = c_ulong(0)
        if self.libc.prctl(c_int(option), c_ulong(arg), zero, zero, zero) != 0 and check:
            raise self._error(f"prctl({option})")

    def create_ruleset(self, fs: int, net: int, scoped: int, version: int) -> int:
        from ctypes import Structure, byref, c_size_t, c_uint32, c_uint64

        class Attr(Structure):
            _fields_ = [("fs", c_uint64), ("net", c_uint64), ("scoped", c_uint64)]

        size = 8 if version < 4 else 16 if version < 6 else 24  # the struct as this ABI knows it
        fd = self._syscall(0, byref(Attr(fs, net, scoped)), c_size_t(size), c_uint32(0))
        if fd < 0:
            raise self._error("landlock_create_ruleset")
        return fd

    def add_path_rule(self, ruleset: int, rights: int, target: int, path: str) -> None:
        from ctypes import Structure, byref, c_int, c_int32, c_uint32, c_uint64

        class PathBeneath(Structure):
            _pack_ = 1
            _fields_ = [("allowed_access", c_uint64), ("parent_fd", c_int32)]

        rule = PathBeneath(rights, target)
        if self._syscall(1, c_int(ruleset), c_int(RULE_PATH_BENEATH), byref(rule), c_uint32(0)):
            raise self._error(f"landlock_add_rule({path})")

    def restrict_self(self, ruleset: int) -> None:
        from ctypes import c_int, c_uint32

        if self._syscall(2, c_int(ruleset), c_uint32(0)) != 0:
            raise self._error("landlock_restrict_self")

    def drop_capabilities(self) -> None:
        """Empty the effective, permitted, inheritable, ambient and (with CAP_SETPCAP)
        bounding sets: nothing is regained by executing a program, root's included."""
        from ctypes import Structure, byref, c_int, c_uint32

        class Header(Structure):
            _fields_ = [("version", c_uint32), ("pid", c_int)]

        class Data(Structure):
            _fields_ = [("effective", c_uint32), ("permitted", c_uint32), ("inheritable", c_uint32)]

        header = Header(CAPABILITY_VERSION_3, 0)
        held = (Data * 2)()
        if self.libc.capget(byref(header), held) != 0:
            raise self._error("capget")
        if any(d.effective | d.permitted | d.inheritable for d in held):
            try:
                with open("/proc/sys/kernel/cap_last_cap", "rb") as f:
                    last = int(f.read())
            except (OSError, ValueError):
                last = 63
            for cap in range(last + 1):  # needs CAP_SETPCAP; harmless without it
                self.prctl(PR_CAPBSET_DROP, cap, check=False)
            if self.libc.capset(byref(header), (Data * 2)()) != 0:
                raise self._error("capset")
        self.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, check=False)


def _candidates(program: str) -> list[str]:
    """Where ``execvp`` would look for ``program``, worked out before the ruleset holds
    (``os.get_exec_path`` imports a module, which the sandbox may no longer read)."""
    if os.sep in program:
        return [program]
    return [os.path.join(d or os.curdir, program) for d in os.get_exec_path()]


def _exec(candidates: Sequence[str], argv: Sequence[str]) -> OSError:
    """``execvp`` over ``candidates``; returns the error when none could be executed."""
    first: OSError | None = None
    last: OSError = FileNotFoundError(2, os.strerror(2))
    for path in candidates:
        try:
            os.execv(path, list(argv))  # noqa: S606 (argv, never a shell)
        except (FileNotFoundError, NotADirectoryError) as exc:
            last = exc
        except OSError as exc:
            last = exc
            first = first or exc
    return first or last


def main(args: Sequence[str] | None = None) -> int:
    """``python -m lanectl.sandbox RULES -- PROGRAM [ARGS…]``: confine, then become PROGRAM."""
    args = list(sys.argv[1:] if args is None else args)
    if len(args) < 3 or args[1] != "--":
        sys.stderr.write("usage: python -m lanectl.sandbox RULES -- PROGRAM [ARGS…]\n")
        return 2
    program = args[2:]
    import signal  # everything the wrapper needs is imported before the ruleset holds

    candidates = _candidates(program[0])
    try:
        apply(Rules.decode(args[0]))
    except (SandboxError, ValueError, OSError) as exc:
        sys.stderr.write(f"cannot start {program[0]}: the sandbox could not be applied ({exc})\n")
        return DENIED
    for name in ("SIGPIPE", "SIGXFSZ"):  # ignored by Python; a program expects the default
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    failed = _exec(candidates, program)
    hint = ""
    if isinstance(failed, PermissionError):
        hint = " (the sandbox runs programs only from allowed paths: sandbox.read)"
    sys.stderr.write(f"cannot start {program[0]}: {failed.strerror}{hint}\n")
    return NOT_FOUND if isinstance(failed, FileNotFoundError) else DENIED


if __name__ == "__main__":
    sys.exit(main())
