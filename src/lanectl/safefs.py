"""Files under one root, opened so that no symlink can lead out of it (ADR 0022).

The policy engine decides a path first (it resolves symlinks and ``..``
under the task worktree); what it allowed can still change before the file
is opened — a link swapped in for a directory between the check and the use.
So every open here resolves the path once, re-checks that it is inside the
root, and then walks the resolved path from a descriptor of the root one
component at a time with ``O_NOFOLLOW``: a component that became a link (or
anything but a directory) fails the walk instead of being followed.
Writes go to a temporary file in the same directory and are renamed over the
target, so a link planted at the final name is replaced, never written through.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_READ = 4 * 1024 * 1024  # bytes read of one file


class Escape(Exception):
    """The path leads (or now leads) outside the root, or is not what it was."""


@dataclass(frozen=True)
class Entry:
    rel: str  # POSIX, relative to the root
    kind: str  # file | dir | link | other
    size: int = 0


class Root:
    def __init__(self, root: Path) -> None:
        self.path = Path(os.path.realpath(root))

    # -- resolving ------------------------------------------------------------

    def resolve(self, path: str) -> str:
        """``path`` (relative to the root, or absolute) resolved: a POSIX path inside the
        root ('.' for the root itself). Raises :class:`Escape` when it is outside."""
        if "\0" in path:
            raise Escape("a path cannot contain a NUL byte")
        target = os.path.realpath(os.path.join(self.path, path))
        rel = os.path.relpath(target, self.path)
        if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
            raise Escape(f"{path} resolves outside the worktree")
        return Path(rel).as_posix()

    @contextlib.contextmanager
    def _dir(self, parts: list[str], *, create: bool = False) -> Iterator[int]:
        """A descriptor of the directory ``parts`` under the root, walked without links."""
        fd = os.open(self.path, _DIR)
        try:
            for part in parts:
                try:
                    nxt = os.open(part, _DIR, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, 0o755, dir_fd=fd)
                    nxt = os.open(part, _DIR, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise Escape(f"{part} changed into a link or a file while in use") from None
                    raise
                os.close(fd)
                fd = nxt
            yield fd
        finally:
            os.close(fd)

    @staticmethod
    def _split(rel: str) -> tuple[list[str], str]:
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if not parts:
            raise IsADirectoryError(errno.EISDIR, "the worktree itself is a directory")
        return parts[:-1], parts[-1]

    # -- reading --------------------------------------------------------------

    def read_bytes(self, path: str, limit: int = MAX_READ) -> tuple[bytes, int]:
        """(up to ``limit`` bytes, the file's size) of a regular file under the root."""
        rel = self.resolve(path)
        parents, name = self._split(rel)
        with self._dir(parents) as dfd:
            try:
                fd = os.open(
                    name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd
                )
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise Escape(f"{path} changed into a link while in use") from None
                raise
            try:
                info = os.fstat(fd)
                if stat.S_ISDIR(info.st_mode):
                    raise IsADirectoryError(errno.EISDIR, f"{path} is a directory")
                if not stat.S_ISREG(info.st_mode):
                    raise Escape(f"{path} is not a regular file")
                chunks: list[bytes] = []
                left = limit
                while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
                    chunks.append(chunk)
                    left -= len(chunk)
                return b"".join(chunks), info.st_size
            finally:
                os.close(fd)

    def walk(self, path: str = ".", *, limit: int = 100_000) -> Iterator[Entry]:
        """Every entry under ``path`` (sorted, depth first), links listed and never entered;
        ``.git`` is skipped."""
        rel = self.resolve(path)
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        seen = 0

        def inner(dir_parts: list[str]) -> Iterator[Entry]:
            nonlocal seen
            with self._dir(dir_parts) as dfd:
                names = sorted(os.listdir(dfd))
                stats = {}
                for name in names:
                    with contextlib.suppress(FileNotFoundError):
                        stats[name] = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            for name in names:
                info = stats.get(name)
                if info is None or (not dir_parts and name == ".git"):
                    continue
                seen += 1
                if seen > limit:
                    return
                child = "/".join([*dir_parts, name])
                if stat.S_ISDIR(info.st_mode):
                    yield Entry(child, "dir")
                    yield from inner([*dir_parts, name])
                elif stat.S_ISLNK(info.st_mode):
                    yield Entry(child, "link")
                elif stat.S_ISREG(info.st_mode):
                    yield Entry(child, "file", info.st_size)
                else:
                    yield Entry(child, "other")

        if parts:
            with self._dir(parts[:-1]) as dfd:
                info = os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode):
                yield Entry(rel, "file" if stat.S_ISREG(info.st_mode) else "other", info.st_size)
                return
        yield from inner(parts)

    # -- writing --------------------------------------------------------------

    def write_bytes(self, path: str, data: bytes) -> bool:
        """Replace (or create) the file at ``path``; True when it was new."""
        rel = self.resolve(path)
        parents, name = self._split(rel)
        with self._dir(parents, create=True) as dfd:
            mode = 0o644
            created = True
            try:
                info = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                pass
            else:
                if stat.S_ISDIR(info.st_mode):
                    raise IsADirectoryError(errno.EISDIR, f"{path} is a directory")
                if stat.S_ISREG(info.st_mode):
                    mode = stat.S_IMODE(info.st_mode)
                created = False
            tmp = f".{name[:40]}.lanectl-{secrets.token_hex(6)}"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(tmp, flags, mode, dir_fd=dfd)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fchmod(fd, mode)
            except BaseException:
                os.close(fd)
                os.unlink(tmp, dir_fd=dfd)
                raise
            os.close(fd)
            try:
                os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            except BaseException:
                os.unlink(tmp, dir_fd=dfd)
                raise
            return created
