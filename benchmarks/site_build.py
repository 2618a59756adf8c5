"""How long the course website takes to build in quick mode, and how heavy its pages are.

    python benchmarks/site_build.py            # every lesson, executed afresh in quick mode
    python benchmarks/site_build.py 00 07      # chosen lessons

Runs ``tools/site.py --quick --fresh`` (each lesson in a fresh kernel, quick mode, then Sphinx)
into a temporary folder and prints ``name: value unit`` lines: the size of each lesson page
(its HTML with inline explorers, then with the pictures it shows), the whole site, and last the
headline, the build time. Run it with COURSEKIT_MIRROR set as in CI.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    out = Path(tempfile.mkdtemp()) / "site"
    start = time.perf_counter()
    subprocess.run([sys.executable, str(REPO / "tools" / "site.py"), "--quick", "--fresh", "--out", str(out),
                    *sys.argv[1:]], check=True, cwd=REPO)
    seconds = time.perf_counter() - start
    for page in sorted((out / "lessons").glob("*.html")):
        html = page.read_text(encoding="utf-8")
        images = sum((out / "lessons" / src).stat().st_size for src in re.findall(r'<img[^>]+src="([^"]+)"', html)
                     if not src.startswith("data:") and (out / "lessons" / src).is_file())
        print(f"page_{page.stem[:2]}_html: {len(html.encode()) / 1e6:.2f} MB")
        print(f"page_{page.stem[:2]}_with_pictures: {(len(html.encode()) + images) / 1e6:.2f} MB")
    total = sum(path.stat().st_size for path in out.rglob("*") if path.is_file())
    mathjax = sum(path.stat().st_size for path in (out / "_static" / "mathjax").rglob("*") if path.is_file())
    print(f"site_size: {total / 1e6:.1f} MB (MathJax {mathjax / 1e6:.1f} MB of it)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(f"site_build_quick: {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
