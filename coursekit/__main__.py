"""``python -m coursekit prefetch``: fetch the datasets and weights once, then work offline.

Course maintenance (lesson headers, student copies, slides, recorded results) lives outside the
package, in ``tools/`` of the course repository.
"""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    prefetch = commands.add_parser("prefetch", help="fetch datasets and weights once (then work offline)")
    prefetch.add_argument("--quick", action="store_true", help="also build the quick-mode subsets")
    args = parser.parse_args(argv)
    if args.command == "prefetch":
        from coursekit import datasets

        print(datasets.prefetch(quick=True if args.quick else None).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
