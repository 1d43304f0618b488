"""Git tree ids of directories on disk: how core verifies every download.

A directory's tree id is computed exactly as git would for the same files: blob ids
of file bytes, modes 100644 / 100755 / 120000, entries sorted the git way (a
directory sorts as if its name ended with "/"), empty directories left out. Gitlinks
(submodules), which a download can only show as empty directories, are given by the
caller.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Iterator, Mapping, Optional

_CHUNK = 1 << 20

Entry = tuple[int, str]  # (mode, hex id)


def blob_id(data: bytes) -> bytes:
    """git's blob id of some bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).digest()


def blob_id_of_file(path: "str | bytes", size: int) -> bytes:
    """git's blob id of a file, read in chunks (``size`` is its length)."""
    h = hashlib.sha1(b"blob %d\0" % size)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.digest()


def tree_id_of_directory(
    directory: str, gitlinks: Optional[Mapping[str, str]] = None, entries: Optional[dict[str, Entry]] = None
) -> Optional[str]:
    """The tree id of ``directory`` (None when it holds no file at all, like git).

    ``gitlinks`` maps POSIX paths of submodules to their commit ids. When ``entries``
    is a dict, every blob, symlink and gitlink found is recorded in it by path.
    """
    raw = _tree(directory, "", gitlinks or {}, entries)
    return raw.hex() if raw is not None else None


def _tree(directory: str, prefix: str, gitlinks: Mapping[str, str], entries: Optional[dict[str, Entry]]) -> Optional[bytes]:
    items: list[tuple[bytes, bytes]] = []  # (sort key, entry bytes)
    with os.scandir(directory) as it:
        listing = sorted(it, key=lambda e: e.name)
    for entry in listing:
        name = entry.name
        rel = f"{prefix}{name}"
        raw_name = os.fsencode(name)
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            sha = blob_id(os.fsencode(os.readlink(entry.path)))
            mode = 0o120000
        elif stat.S_ISDIR(st.st_mode):
            if rel in gitlinks:
                sha, mode = bytes.fromhex(gitlinks[rel]), 0o160000
            else:
                sub = _tree(entry.path, rel + "/", gitlinks, entries)
                if sub is None:
                    continue
                items.append((raw_name + b"/", b"40000 %s\0%s" % (raw_name, sub)))
                continue
        elif stat.S_ISREG(st.st_mode):
            sha = blob_id_of_file(entry.path, st.st_size)
            mode = 0o100755 if st.st_mode & 0o100 else 0o100644
        else:
            raise ValueError(f"{rel} is neither a file, a symlink nor a directory")
        if entries is not None:
            entries[rel] = (mode, sha.hex())
        items.append((raw_name, b"%o %s\0%s" % (mode, raw_name, sha)))
    if not items:
        return None
    items.sort()
    content = b"".join(item for _key, item in items)
    return hashlib.sha1(b"tree %d\0" % len(content) + content).digest()


def differences(found: Mapping[str, Entry], expected: Mapping[str, Entry]) -> Iterator[str]:
    """Human-readable differences between two listings of path -> (mode, id)."""
    for path in sorted(set(found) | set(expected)):
        a, b = found.get(path), expected.get(path)
        if a == b:
            continue
        if a is None:
            yield f"missing {path}"
        elif b is None:
            yield f"unexpected {path}"
        elif a[0] != b[0]:
            yield f"mode {a[0]:o} instead of {b[0]:o}: {path}"
        else:
            yield f"content differs: {path}"
