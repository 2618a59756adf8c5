"""Maintainer commands: ``python -m coursekit sync`` and ``python -m coursekit students``."""

from __future__ import annotations

import argparse
from pathlib import Path

from coursekit import notebooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="rewrite lesson headers from config.REPOSITORY and add slide metadata")
    sync.add_argument("folder", nargs="?", default="notebooks")
    students = commands.add_parser("students", help="write student copies without solutions")
    students.add_argument("--source", default="notebooks")
    students.add_argument("--target", default="students")
    prefetch = commands.add_parser("prefetch", help="fetch datasets and weights once (then work offline)")
    prefetch.add_argument("--quick", action="store_true", help="also build the quick-mode subsets")
    args = parser.parse_args(argv)
    if args.command == "sync":
        for path in sorted(Path(args.folder).glob("[0-9][0-9]_*.ipynb")):
            print(("updated  " if notebooks.sync(path) else "unchanged") + f" {path}")
    elif args.command == "students":
        for path in notebooks.write_student_copies(args.source, args.target):
            print(f"wrote {path}")
    elif args.command == "prefetch":
        from coursekit import datasets

        print(datasets.prefetch(quick=True if args.quick else None).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
