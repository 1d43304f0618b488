"""``coderepo download`` against git's own sparse, partial, shallow clone, side by side.

A generated repository of 20,000 files (5,000 in the wanted subdirectory) is served by
Debian's ``git http-backend`` on 127.0.0.1. Alternating in one run, both as whole
processes writing to tmpfs (/dev/shm):

- ``coderepo download NAME --commit C --subdirectory SUB DEST --no-cache``
- ``git clone --depth 1 --filter=blob:none --sparse URL DEST`` + ``git sparse-checkout set SUB``

It prints wall time, bytes sent by the server, and peak memory, with ratios. Then a
second, cached download in-process (``coderepo.download``) against ``shutil.copytree``
of the same files, and peak memory of a download of a repository holding --big-mb MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from servers.git_http import GitHttpServer  # noqa: E402

ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
    GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com",
)


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True).stdout


def generate(root: Path, files: int, wanted: int) -> None:
    """files in total, `wanted` of them under src/wanted, in directories of 50."""
    work = root / "work"
    for i in range(files):
        top = "src/wanted" if i < wanted else f"src/other{i % 3}"
        folder = work / top / f"pkg{(i % wanted if i < wanted else i) // 50:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        body = f"# module {i}\n" + "".join(f"VALUE_{j} = {i * 31 + j}  # some text to compress\n" for j in range(25))
        (folder / f"m{i:05d}.py").write_text(body)
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "generated", cwd=work)
    served = root / "served"
    served.mkdir()
    git("clone", "-q", "--bare", str(work), str(served / "big.git"), cwd=root)
    git("config", "uploadpack.allowFilter", "true", cwd=served / "big.git")
    git("config", "uploadpack.allowAnySHA1InWant", "true", cwd=served / "big.git")
    git("repack", "-adq", cwd=served / "big.git")


def run_measured(command: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of a whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{command[0]} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return elapsed, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--wanted", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big-mb", type=int, default=500, help="size of the memory test repository (0: skip)")
    parser.add_argument("--dir", type=Path, help="reuse (or create) the generated repositories here")
    args = parser.parse_args()
    shm = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())

    base = args.dir or Path(tempfile.mkdtemp(prefix="coderepo-bench-download-"))
    if not (base / "served").exists():
        print(f"generating {args.files} files ({args.wanted} wanted) under {base} ...", flush=True)
        generate(base, args.files, args.wanted)
    commit = git("rev-parse", "HEAD", cwd=base / "work").strip()
    home = Path(tempfile.mkdtemp(prefix="coderepo-bench-home-", dir=shm))  # the cache too: tmpfs
    env = dict(ENV, CODEREPO_HOME=str(home))
    exe = str(Path(sys.executable).with_name("coderepo"))

    with GitHttpServer(base / "served") as server:
        url = server.url("big.git")
        subprocess.run([exe, "register", "big", "--type=git", f"--url={url}"], env=env, check=True, capture_output=True)
        samples: dict[str, list[float]] = {
            f"{who} {what}": [] for who in ("git", "cr", "crc") for what in ("s", "bytes", "rss")
        }
        for run in range(args.runs):
            for who in ("git", "cr", "crc"):
                dest = shm / f"coderepo-bench-{who}-{run}"
                shutil.rmtree(dest, ignore_errors=True)
                server.bytes_sent = 0
                if who == "git":
                    t1, m1 = run_measured(["git", "clone", "-q", "--depth", "1", "--filter=blob:none", "--sparse", url, str(dest)], ENV)
                    t2, m2 = run_measured(["git", "sparse-checkout", "set", "src/wanted"], ENV, cwd=dest)
                    elapsed, rss = t1 + t2, max(m1, m2)
                    count = sum(1 for _ in (dest / "src" / "wanted").rglob("*.py"))
                else:
                    cache_flag = ["--no-cache"] if who == "cr" else []
                    shutil.rmtree(home / "cache", ignore_errors=True)  # "crc" fills an empty cache
                    elapsed, rss = run_measured([exe, "download", "big", "--commit", commit, "--subdirectory", "src/wanted",
                                                 str(dest), *cache_flag], env)
                    count = sum(1 for _ in dest.rglob("*.py"))
                assert count == args.wanted, (who, count)
                samples[f"{who} s"].append(elapsed)
                samples[f"{who} bytes"].append(server.bytes_sent)
                samples[f"{who} rss"].append(rss)
                shutil.rmtree(dest, ignore_errors=True)

        med = {k: statistics.median(v) for k, v in samples.items()}
        print(f"\n{args.files} files, {args.wanted} in src/wanted; median of {args.runs} runs; writing to {shm}\n")
        print(f"{'':34}{'git':>12}{'coderepo':>12}{'ratio':>8}{'target':>9}   (coderepo: --no-cache)")
        print(f"{'wall time (s)':34}{med['git s']:12.3f}{med['cr s']:12.3f}{med['cr s'] / med['git s']:8.2f}{'<= 1.5':>9}")
        print(f"{'bytes sent by the server':34}{med['git bytes']:12.0f}{med['cr bytes']:12.0f}"
              f"{med['cr bytes'] / med['git bytes']:8.2f}{'<= 1.1':>9}")
        print(f"{'peak memory (MB)':34}{med['git rss'] / 1e6:12.1f}{med['cr rss'] / 1e6:12.1f}")
        print(f"{'wall time, filling the cache (s)':34}{med['git s']:12.3f}{med['crc s']:12.3f}{med['crc s'] / med['git s']:8.2f}")

        # A second download of a cached tree, in process, against copytree of the same files.
        import coderepo

        os.environ["CODEREPO_HOME"] = str(home)
        repository = coderepo.get_repository("big")
        first = shm / "coderepo-bench-cache-fill"
        shutil.rmtree(first, ignore_errors=True)
        coderepo.download(repository, commit, str(first), "src/wanted")
        cached, copied = [], []
        for run in range(args.runs):
            a, b = shm / f"coderepo-bench-cached-{run}", shm / f"coderepo-bench-copytree-{run}"
            start = time.perf_counter()
            result = coderepo.download(repository, commit, str(a), "src/wanted")
            cached.append(time.perf_counter() - start)
            assert result.from_cache
            start = time.perf_counter()
            shutil.copytree(first, b, symlinks=True)
            copied.append(time.perf_counter() - start)
            shutil.rmtree(a)
            shutil.rmtree(b)
        shutil.rmtree(first)
        c, k = statistics.median(cached), statistics.median(copied)
        print(f"{'cached download vs copytree (s)':34}{k:12.3f}{c:12.3f}{c / k:8.2f}{'<= 1.5':>9}   (in process)")
        before = len(server.requests)
        coderepo.download(repository, commit, str(shm / "coderepo-bench-nonet"), "src/wanted")
        shutil.rmtree(shm / "coderepo-bench-nonet")
        print(f"{'requests for a cached download':34}{'':12}{len(server.requests) - before:12d}")

    if args.big_mb:
        big = base / "big500"
        if not (big / "served").exists():
            print(f"\ngenerating a repository of {args.big_mb} MB ...", flush=True)
            work = big / "work"
            (work / "data").mkdir(parents=True)
            for i in range(args.big_mb):
                (work / "data" / f"blob{i:04d}.bin").write_bytes(os.urandom(1 << 20))
            git("init", "-q", "-b", "main", cwd=work)
            git("add", "-A", cwd=work)
            git("commit", "-q", "-m", "big", cwd=work)
            (big / "served").mkdir()
            git("clone", "-q", "--bare", str(work), str(big / "served" / "huge.git"), cwd=big)
        big_commit = git("rev-parse", "HEAD", cwd=big / "work").strip()
        with GitHttpServer(big / "served") as server:
            subprocess.run([exe, "register", "huge", "--type=git", f"--url={server.url('huge.git')}"], env=env, check=True,
                           capture_output=True)
            dest = shm / "coderepo-bench-huge"
            shutil.rmtree(dest, ignore_errors=True)
            elapsed, rss = run_measured([exe, "download", "huge", "--commit", big_commit, str(dest), "--no-cache"], env)
            size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
            shutil.rmtree(dest)
            git_elapsed, git_rss = run_measured(["git", "clone", "-q", "--depth", "1", server.url("huge.git"), str(dest)], ENV)
            shutil.rmtree(dest)
        print(f"\n{args.big_mb} MB repository ({size / 1e6:.0f} MB of files):")
        print(f"{'':34}{'git clone':>12}{'coderepo':>12}{'ratio':>8}{'target':>9}")
        print(f"{'wall time (s)':34}{git_elapsed:12.1f}{elapsed:12.1f}{elapsed / git_elapsed:8.2f}")
        print(f"{'peak memory (MB)':34}{git_rss / 1e6:12.1f}{rss / 1e6:12.1f}{'':8}{'< 150':>9}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
