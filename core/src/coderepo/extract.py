"""Safe, streaming extraction of tar(.gz) and zip archives into a download directory.

Plugins that download archives (GitHub tarballs, GitLab archives) hand the response
stream to these helpers. They strip the archive's top folder, keep only the wanted
subdirectory, preserve the executable bit and symlinks, and refuse anything that
could write outside the destination: absolute paths, ``..``, symlinks pointing out
of the repository, hard links to anything but an earlier file of the archive,
members below a symlink, device files, and unreasonable sizes. Symlinks are created,
never followed, and files are opened with O_EXCL | O_NOFOLLOW.
Nothing is loaded whole into memory; truncated streams (a missing gzip trailer too)
are errors.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
import zipfile
from typing import IO, BinaryIO, Callable, Optional

import attrs

from .errors import CodeRepoError

_CHUNK = 1 << 20


class UnsafeArchiveError(CodeRepoError):
    """The archive tries something no repository archive needs (and attackers do)."""


class TruncatedArchiveError(CodeRepoError):
    """The archive stream ended early or is damaged."""


@attrs.frozen
class Limits:
    """Bounds on what an archive may contain."""

    max_file_bytes: int = 8 << 30
    max_total_bytes: int = 64 << 30
    max_members: int = 2_000_000


@attrs.define
class ExtractResult:
    files: int = 0
    bytes: int = 0
    empty_directories: list[str] = attrs.field(factory=list)


class _Writer:
    """Creates members under ``root`` safely; knows every path it created."""

    def __init__(self, root: str, limits: Limits, progress: Optional[Callable[[int], None]]) -> None:
        self.root = os.path.realpath(root)
        self.limits = limits
        self.progress = progress
        self.result = ExtractResult()
        self.symlinks: set[str] = set()
        self.files: set[str] = set()
        self.directories: set[str] = {""}
        self.members = 0

    def check_name(self, rel: str) -> str:
        if "\0" in rel or rel.startswith("/") or "\\" in rel and os.sep == "\\":
            raise UnsafeArchiveError(f"archive member {rel!r} has an absolute or invalid path")
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise UnsafeArchiveError(f"archive member {rel!r} points outside the destination ('..')")
        clean = "/".join(parts)
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in self.symlinks:
                raise UnsafeArchiveError(f"archive member {rel!r} lies below a symlink")
        self.members += 1
        if self.members > self.limits.max_members:
            raise UnsafeArchiveError(f"archive has more than {self.limits.max_members} members")
        return clean

    def path(self, rel: str) -> str:
        return os.path.join(self.root, *rel.split("/"))

    def _parents(self, rel: str) -> None:
        parent = posixpath.dirname(rel)
        if parent and parent not in self.directories:
            self.directory(parent)

    def directory(self, rel: str) -> None:
        if rel in self.files or rel in self.symlinks:
            raise UnsafeArchiveError(f"archive member {rel!r} is both a file and a directory")
        self._parents(rel)
        os.makedirs(self.path(rel), exist_ok=True)
        self.directories.add(rel)

    def file(self, rel: str, size: int, mode: int, source: IO[bytes]) -> None:
        if size > self.limits.max_file_bytes:
            raise UnsafeArchiveError(f"archive member {rel!r} declares {size} bytes, over the limit")
        if self.result.bytes + size > self.limits.max_total_bytes:
            raise UnsafeArchiveError("archive content exceeds the size limit")
        if rel in self.files or rel in self.symlinks or rel in self.directories:
            raise UnsafeArchiveError(f"archive member {rel!r} appears twice")
        self._parents(rel)
        perm = 0o755 if mode & 0o100 else 0o644
        fd = os.open(self.path(rel), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, perm)
        written = 0
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(min(_CHUNK, max(size - written, 0) + 1)):
                written += len(chunk)
                if written > size:
                    raise UnsafeArchiveError(f"archive member {rel!r} is larger than it declares")
                out.write(chunk)
                if self.progress:
                    self.progress(len(chunk))
        if written != size:
            raise TruncatedArchiveError(f"archive member {rel!r} is truncated ({written} of {size} bytes)")
        os.chmod(self.path(rel), perm)  # exactly 644/755, whatever the umask
        self.files.add(rel)
        self.result.files += 1
        self.result.bytes += size

    def symlink(self, rel: str, target: str, within: str = "") -> None:
        """A symlink may point anywhere inside the repository (``within`` is the
        extracted subdirectory's path in it); it is created, never followed."""
        if not target or "\0" in target or target.startswith("/"):
            raise UnsafeArchiveError(f"symlink {rel!r} points to an absolute path {target!r}")
        repo_path = posixpath.join(within, rel) if within else rel
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(repo_path), target))
        if resolved == ".." or resolved.startswith("../"):
            raise UnsafeArchiveError(f"symlink {rel!r} points outside the destination ({target!r})")
        if rel in self.files or rel in self.symlinks or rel in self.directories:
            raise UnsafeArchiveError(f"archive member {rel!r} appears twice")
        self._parents(rel)
        os.symlink(target, self.path(rel))
        self.symlinks.add(rel)
        self.result.files += 1

    def hardlink(self, rel: str, target: str) -> None:
        """Hard links become copies of a file already extracted from the same archive."""
        if target not in self.files:
            raise UnsafeArchiveError(f"hard link {rel!r} points to {target!r}, not a file of this archive")
        with open(self.path(target), "rb") as source:
            size = os.fstat(source.fileno()).st_size
            mode = os.stat(self.path(target)).st_mode
            self.file(rel, size, mode, source)

    def finish(self) -> ExtractResult:
        for rel in sorted(self.directories - {""}):
            if not os.listdir(self.path(rel)):
                self.result.empty_directories.append(rel)
        return self.result


def _select(name: str, strip_components: int, subdirectory: str) -> Optional[str]:
    """The member's path inside the destination, or None when it is not wanted."""
    if name.startswith("/") or "\0" in name or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(f"archive member {name!r} points outside the destination ('..')")
    if len(parts) <= strip_components:
        return None
    rel = "/".join(parts[strip_components:])
    if not subdirectory:
        return rel
    if rel == subdirectory:
        return ""
    if rel.startswith(subdirectory + "/"):
        return rel[len(subdirectory) + 1 :]
    return None


def extract_tar(
    stream: BinaryIO,
    directory: str,
    subdirectory: str = "",
    *,
    compression: str = "gz",
    strip_components: int = 1,
    limits: Limits = Limits(),
    progress: Optional[Callable[[int], None]] = None,
) -> ExtractResult:
    """Extract a tar stream (gzip-compressed by default) into ``directory``."""
    import gzip
    import zlib

    subdirectory = subdirectory.strip("/")
    source: BinaryIO = gzip.GzipFile(fileobj=stream, mode="rb") if compression == "gz" else stream  # type: ignore[assignment]
    writer = _Writer(directory, limits, progress)
    try:
        with tarfile.open(fileobj=source, mode="r|") as archive:
            for member in archive:
                _tar_member(archive, member, writer, strip_components, subdirectory)
        while source.read(_CHUNK):  # read to the end: the gzip trailer (CRC, size) is checked
            pass
    except (EOFError, zlib.error, gzip.BadGzipFile, tarfile.ReadError) as exc:
        raise TruncatedArchiveError(f"the archive is truncated or damaged ({exc})") from None
    except tarfile.TarError as exc:
        raise UnsafeArchiveError(f"the archive is invalid ({exc})") from None
    return writer.finish()


def _tar_member(archive: tarfile.TarFile, member: tarfile.TarInfo, writer: _Writer, strip: int, sub: str) -> None:
    if member.type in (tarfile.XGLTYPE, tarfile.XHDTYPE):
        return
    if member.isdev() or member.isfifo():
        raise UnsafeArchiveError(f"archive member {member.name!r} is a device or fifo")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveError(f"archive member {member.name!r} has an unsupported type")
    rel = _select(member.name, strip, sub)
    if rel is None:
        return
    rel = writer.check_name(rel) if rel else ""
    if member.isdir():
        if rel:
            writer.directory(rel)
    elif not rel:
        raise UnsafeArchiveError(f"archive member {member.name!r} replaces the destination itself")
    elif member.issym():
        writer.symlink(rel, member.linkname, sub)
    elif member.islnk():
        target = _select(member.linkname, strip, sub)
        writer.hardlink(rel, writer.check_name(target) if target else "")
    else:
        source = archive.extractfile(member)
        assert source is not None
        writer.file(rel, member.size, member.mode, source)


def extract_zip(
    stream: BinaryIO,
    directory: str,
    subdirectory: str = "",
    *,
    strip_components: int = 1,
    limits: Limits = Limits(),
    progress: Optional[Callable[[int], None]] = None,
) -> ExtractResult:
    """Extract a zip stream into ``directory`` (spooled to a temporary file first:
    a zip's directory is at its end)."""
    subdirectory = subdirectory.strip("/")
    writer = _Writer(directory, limits, progress)
    with tempfile.TemporaryFile() as spool:
        shutil.copyfileobj(stream, spool, _CHUNK)
        spool.seek(0)
        try:
            archive = zipfile.ZipFile(spool)
        except zipfile.BadZipFile as exc:
            raise TruncatedArchiveError(f"the archive is truncated or damaged ({exc})") from None
        with archive:
            for info in archive.infolist():
                _zip_member(archive, info, writer, strip_components, subdirectory)
    return writer.finish()


def _zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, writer: _Writer, strip: int, sub: str) -> None:
    mode = info.external_attr >> 16
    rel = _select(info.filename, strip, sub)
    if rel is None:
        return
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise UnsafeArchiveError(f"archive member {info.filename!r} is a device or fifo")
    rel = writer.check_name(rel) if rel else ""
    if info.is_dir():
        if rel:
            writer.directory(rel)
        return
    if not rel:
        raise UnsafeArchiveError(f"archive member {info.filename!r} replaces the destination itself")
    try:
        if stat.S_ISLNK(mode):
            if info.file_size > 4096:
                raise UnsafeArchiveError(f"symlink {info.filename!r} has an unreasonable target size")
            writer.symlink(rel, archive.read(info).decode("utf-8", "surrogateescape"), sub)
            return
        with archive.open(info) as source:
            writer.file(rel, info.file_size, mode, source)
    except zipfile.BadZipFile as exc:
        raise TruncatedArchiveError(f"the archive is damaged ({exc})") from None
