"""coderepo's checkout inspection against ``git status --porcelain``, side by side.

Generates a checkout of 50,000 files in 1,000 directories (plus ignored build output),
then alternates the measurements in one run and prints medians and ratios:

- in-process ``coderepo.inspect_checkout`` (imports paid once), clean and with one
  modified file, against ``git status --porcelain`` as a whole process;
- whole-process ``coderepo status --json`` (clean), against the same;
- whole-process ``coderepo --version``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GIT_ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
    GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com",
)
TARGETS = {"clean in-process": 2.0, "one modified in-process": 1.0, "status --json process": 3.0}


def generate(root: Path, files: int, dirs: int) -> None:
    per_dir = files // dirs
    for d in range(dirs):
        folder = root / f"pkg{d // 50:02d}" / f"mod{d:04d}"
        folder.mkdir(parents=True)
        for f in range(per_dir):
            (folder / f"file{f:03d}.py").write_text(f"VALUE = {d * per_dir + f}\n")
    build = root / "build" / "out"
    build.mkdir(parents=True)
    for i in range(2000):
        (build / f"obj{i}.o").write_bytes(b"\0" * 64)
    (root / ".gitignore").write_text("build/\n*.pyc\n")
    run = lambda *a: subprocess.run(["git", *a], cwd=root, env=GIT_ENV, check=True, capture_output=True)
    run("init", "-q", "-b", "main")
    run("add", "-A")
    run("commit", "-q", "-m", "generated")
    run("remote", "add", "origin", "https://git.example.com/bench/big.git")
    run("update-ref", "refs/remotes/origin/main", "HEAD")
    time.sleep(1.1)  # let the index age past racy-git's one-second window, as in real use


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--dirs", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--dir", type=Path, help="reuse (or create) the checkout here")
    args = parser.parse_args()

    import coderepo

    tmp = None
    root = args.dir
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="coderepo-bench-status-")
        root = Path(tmp.name) / "checkout"
    if not (root / ".git").exists():
        root.mkdir(parents=True, exist_ok=True)
        print(f"generating {args.files} files in {args.dirs} directories under {root} ...", flush=True)
        generate(root, args.files, args.dirs)
    home = tempfile.mkdtemp(prefix="coderepo-bench-home-")
    env = dict(os.environ, CODEREPO_HOME=home)
    exe = str(Path(sys.executable).with_name("coderepo"))
    subprocess.run([exe, "register", "big", "--type=git", "--url=https://git.example.com/bench/big.git"],
                   env=env, check=True, capture_output=True)

    git_status = lambda: subprocess.run(["git", "--no-optional-locks", "status", "--porcelain"], cwd=root,
                                        check=True, capture_output=True)
    inspect = lambda: coderepo.inspect_checkout(str(root))
    cli_status = lambda: subprocess.run([exe, "status", str(root), "--json"], env=env, check=True, capture_output=True)
    version = lambda: subprocess.run([exe, "--version"], env=env, check=True, capture_output=True)

    assert not inspect().is_dirty, "generated checkout should be clean"
    inspect()  # imports and caches warm, as for an orchestrator
    samples: dict[str, list[float]] = {k: [] for k in ("git clean", "clean in-process", "status --json process",
                                                        "git modified", "one modified in-process", "--version process")}
    victim = root / "pkg10" / "mod0500" / f"file{args.files // args.dirs // 2:03d}.py"  # in the middle of the index
    original = victim.read_text()
    try:
        for _ in range(args.runs):
            samples["git clean"].append(timed(git_status))
            samples["clean in-process"].append(timed(inspect))
            samples["status --json process"].append(timed(cli_status))
            samples["--version process"].append(timed(version))
            victim.write_text(original.replace("VALUE", "VALUX"))
            samples["git modified"].append(timed(git_status))
            samples["one modified in-process"].append(timed(lambda: assert_dirty(inspect())))
            victim.write_text(original)
    finally:
        victim.write_text(original)

    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"\ncheckout: {args.files} files, {args.dirs} directories; median of {args.runs} runs each\n")
    print(f"{'measurement':<28}{'median':>10}{'vs git':>9}{'target':>9}")
    rows = [
        ("git status (clean)", med["git clean"], None),
        ("clean in-process", med["clean in-process"], med["git clean"]),
        ("status --json process", med["status --json process"], med["git clean"]),
        ("git status (one modified)", med["git modified"], None),
        ("one modified in-process", med["one modified in-process"], med["git modified"]),
    ]
    for name, value, base in rows:
        ratio = f"{value / base:8.2f}x" if base else ""
        target = f"<= {TARGETS[name]:.1f}" if name in TARGETS else ""
        print(f"{name:<28}{value * 1000:8.1f}ms{ratio:>9}{target:>9}")
    print(f"{'coderepo --version process':<28}{med['--version process'] * 1000:8.1f}ms{'':>9}{'< 150ms':>9}")
    if tmp is not None:
        tmp.cleanup()


def assert_dirty(checkout) -> None:
    assert checkout.is_dirty, "the modified file was not seen"


if __name__ == "__main__":
    main()
