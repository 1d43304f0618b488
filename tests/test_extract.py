"""Malicious and damaged archives fed to the extraction helpers: nothing escapes."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path
from typing import Callable

import pytest

from coderepo.extract import Limits, TruncatedArchiveError, UnsafeArchiveError, extract_tar, extract_zip


def tar_bytes(build: Callable[[tarfile.TarFile], None], compress: bool = True) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        build(tar)
    data = raw.getvalue()
    return gzip.compress(data) if compress else data


def add_file(tar: tarfile.TarFile, name: str, content: bytes = b"x", mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = mode
    tar.addfile(info, io.BytesIO(content))


def add_special(tar: tarfile.TarFile, name: str, kind: bytes, linkname: str = "", size: int = 0) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = size
    tar.addfile(info, io.BytesIO(b"\0" * size) if size else None)


def good_archive(tar: tarfile.TarFile) -> None:
    add_special(tar, "repo-abc123/", tarfile.DIRTYPE)
    add_file(tar, "repo-abc123/README.md", b"root\n")
    add_file(tar, "repo-abc123/src/app/main.py", b"print(1)\n")
    add_file(tar, "repo-abc123/src/app/run.sh", b"#!/bin/sh\n", 0o775)
    add_file(tar, "repo-abc123/src/app/empty", b"")
    add_special(tar, "repo-abc123/src/app/link", tarfile.SYMTYPE, "main.py")
    add_special(tar, "repo-abc123/src/app/up", tarfile.SYMTYPE, "../app/main.py")
    add_special(tar, "repo-abc123/src/app/vendor/sub/", tarfile.DIRTYPE)
    add_file(tar, "repo-abc123/src/other/x.py", b"x\n")


def listing(root: Path) -> dict[str, str]:
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                result[rel] = "-> " + os.readlink(full)
            else:
                result[rel] = ("x " if full.stat().st_mode & 0o100 else "- ") + full.read_bytes().decode()
    return result


def test_good_tarball_subdirectory(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    result = extract_tar(io.BytesIO(tar_bytes(good_archive)), str(dest), "src/app")
    assert listing(dest) == {
        "main.py": "- print(1)\n",
        "run.sh": "x #!/bin/sh\n",
        "empty": "- ",
        "link": "-> main.py",
        "up": "-> ../app/main.py",
    }
    assert result.empty_directories == ["vendor", "vendor/sub"] or result.empty_directories == ["vendor/sub"]
    assert stat.S_IMODE((dest / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "main.py").stat().st_mode) == 0o644


def test_good_tarball_whole(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    extract_tar(io.BytesIO(tar_bytes(good_archive)), str(dest))
    assert set(listing(dest)) == {"README.md", "src/app/main.py", "src/app/run.sh", "src/app/empty", "src/app/link", "src/app/up", "src/other/x.py"}


MALICIOUS_TARS: dict[str, Callable[[tarfile.TarFile], None]] = {
    "dotdot": lambda t: add_file(t, "top/../../evil.txt"),
    "dotdot-inside": lambda t: add_file(t, "top/a/../../../evil.txt"),
    "absolute": lambda t: add_file(t, "/tmp/evil.txt"),
    "symlink-absolute": lambda t: add_special(t, "top/link", tarfile.SYMTYPE, "/etc/passwd"),
    "symlink-escape": lambda t: add_special(t, "top/link", tarfile.SYMTYPE, "../../outside"),
    "symlink-then-write": lambda t: (add_special(t, "top/dir", tarfile.SYMTYPE, "."), add_file(t, "top/dir/evil.txt")),
    "symlink-to-outside-then-write": lambda t: (add_special(t, "top/esc", tarfile.SYMTYPE, "../.."), add_file(t, "top/esc/evil.txt")),
    "hardlink-outside": lambda t: add_special(t, "top/hard", tarfile.LNKTYPE, "/etc/passwd"),
    "hardlink-dotdot": lambda t: add_special(t, "top/hard", tarfile.LNKTYPE, "../../etc/passwd"),
    "char-device": lambda t: add_special(t, "top/dev", tarfile.CHRTYPE),
    "block-device": lambda t: add_special(t, "top/blk", tarfile.BLKTYPE),
    "fifo": lambda t: add_special(t, "top/fifo", tarfile.FIFOTYPE),
    "duplicate": lambda t: (add_file(t, "top/a.txt"), add_file(t, "top/a.txt")),
    "file-then-dir": lambda t: (add_file(t, "top/a"), add_file(t, "top/a/b")),
}


@pytest.mark.parametrize("name", sorted(MALICIOUS_TARS))
def test_malicious_tar_writes_nothing_outside(tmp_path: Path, name: str) -> None:
    dest = tmp_path / "sandbox" / "out"
    dest.mkdir(parents=True)
    before = set(tmp_path.rglob("*"))
    with pytest.raises((UnsafeArchiveError, OSError)) as info:
        extract_tar(io.BytesIO(tar_bytes(MALICIOUS_TARS[name])), str(dest))
    after = set(tmp_path.rglob("*"))
    new = {p for p in after - before}
    assert all(dest in p.parents for p in new), new
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "sandbox" / "evil.txt").exists()
    if isinstance(info.value, OSError):  # only the kernel's refusal (O_NOFOLLOW / O_EXCL) is acceptable here
        assert name in ("file-then-dir",)


def test_huge_declared_size_is_refused_before_writing(tmp_path: Path) -> None:
    header = tarfile.TarInfo("top/huge.bin")
    header.size = 20 << 30  # 20 GiB declared, nothing behind it
    raw = header.tobuf(format=tarfile.GNU_FORMAT)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError, match="over the limit"):
        extract_tar(io.BytesIO(gzip.compress(raw)), str(dest), limits=Limits(max_file_bytes=1 << 30))
    assert list(dest.iterdir()) == []


def test_total_size_limit(tmp_path: Path) -> None:
    data = tar_bytes(lambda t: [add_file(t, f"top/f{i}", b"y" * 1000) for i in range(10)])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(UnsafeArchiveError, match="size limit"):
        extract_tar(io.BytesIO(data), str(dest), limits=Limits(max_total_bytes=5000))


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9])
def test_truncated_gzip_stream(tmp_path: Path, cut: float) -> None:
    data = tar_bytes(lambda t: add_file(t, "top/big.bin", os.urandom(200_000)))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(TruncatedArchiveError):
        extract_tar(io.BytesIO(data[: int(len(data) * cut)]), str(dest))


def test_missing_gzip_trailer(tmp_path: Path) -> None:
    data = tar_bytes(good_archive)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(TruncatedArchiveError):
        extract_tar(io.BytesIO(data[:-8]), str(dest))  # CRC32 and size gone


def test_corrupted_gzip_crc(tmp_path: Path) -> None:
    data = bytearray(tar_bytes(good_archive))
    data[-8] ^= 0xFF
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(TruncatedArchiveError):
        extract_tar(io.BytesIO(bytes(data)), str(dest))


def test_streaming_reads_in_chunks(tmp_path: Path) -> None:
    class NoReadAll(io.BytesIO):
        def read(self, size: int = -1) -> bytes:
            assert size is not None and 0 < size <= 1 << 20, "whole-stream read"
            return super().read(size)

    dest = tmp_path / "out"
    dest.mkdir()
    data = tar_bytes(lambda t: add_file(t, "top/big.bin", os.urandom(3 << 20)))
    extract_tar(NoReadAll(data), str(dest))
    assert (dest / "big.bin").stat().st_size == 3 << 20


def zip_bytes(entries: list[tuple[str, bytes, int]]) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            archive.writestr(info, content)
    return raw.getvalue()


def test_good_zip(tmp_path: Path) -> None:
    data = zip_bytes([
        ("repo-1/src/app/main.py", b"print(1)\n", 0o100644),
        ("repo-1/src/app/run.sh", b"#!/bin/sh\n", 0o100755),
        ("repo-1/src/app/link", b"main.py", 0o120777),
        ("repo-1/README", b"r", 0o100644),
    ])
    dest = tmp_path / "out"
    dest.mkdir()
    extract_zip(io.BytesIO(data), str(dest), "src/app")
    assert listing(dest) == {"main.py": "- print(1)\n", "run.sh": "x #!/bin/sh\n", "link": "-> main.py"}


@pytest.mark.parametrize(
    "entries",
    [
        [("top/../../evil.txt", b"x", 0o100644)],
        [("/abs/evil.txt", b"x", 0o100644)],
        [("top/link", b"/etc/passwd", 0o120777)],
        [("top/link", b"../../x", 0o120777)],
        [("top/link", b".", 0o120777), ("top/link/evil.txt", b"x", 0o100644)],
        [("top/fifo", b"", 0o010644)],
        [("top/dev", b"", 0o020644)],
    ],
)
def test_malicious_zip(tmp_path: Path, entries: list[tuple[str, bytes, int]]) -> None:
    dest = tmp_path / "sandbox" / "out"
    dest.mkdir(parents=True)
    with pytest.raises(UnsafeArchiveError):
        extract_zip(io.BytesIO(zip_bytes(entries)), str(dest))
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "sandbox" / "evil.txt").exists()


def test_truncated_and_lying_zips(tmp_path: Path) -> None:
    data = zip_bytes([("top/a.bin", os.urandom(10_000), 0o100644)])
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(TruncatedArchiveError):
        extract_zip(io.BytesIO(data[: len(data) // 2]), str(dest))
    corrupted = bytearray(data)
    corrupted[100] ^= 0xFF  # inside the stored data: the CRC check fails
    dest2 = tmp_path / "out2"
    dest2.mkdir()
    with pytest.raises(TruncatedArchiveError):
        extract_zip(io.BytesIO(bytes(corrupted)), str(dest2))
