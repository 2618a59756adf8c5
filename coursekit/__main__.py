"""``python -m coursekit prefetch``: fetch the datasets and weights once, then work offline.

Course maintenance (headers, student copies, slides, records) is in the repository's ``tools/``.
"""

from __future__ import annotations

import argparse
import textwrap

from coursekit import datasets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursekit", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["prefetch"],
                        help="prefetch: fetch datasets and weights once (then work offline)")
    parser.add_argument("--quick", action="store_true", help="also build the quick-mode subsets")
    args = parser.parse_args(argv)
    for row in datasets.prefetch(quick=True if args.quick else None).itertuples():
        line = f"{row.item}: {row.status}" + (f" -> {row.path}" if isinstance(row.path, str) else "")
        print(textwrap.fill(line, 100, subsequent_indent="    ", break_long_words=False,
                            break_on_hyphens=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
