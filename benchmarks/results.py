"""Writes one benchmark's section of benchmarks/RESULTS.md, leaving the other sections as they are."""

from __future__ import annotations

import os
import pathlib
import re
import sys

RESULTS = pathlib.Path(__file__).parent / "RESULTS.md"


def relative_paths(text: str) -> str:
    """``text`` with this machine's paths made portable: the repository's as relative paths, the
    Python installation's as ``<python>/...``; nothing machine-specific goes into RESULTS.md."""
    repo = str(RESULTS.resolve().parents[1])
    text = text.replace(repo + os.sep, "").replace(repo, ".")
    for prefix in sorted({sys.prefix, sys.base_prefix, sys.exec_prefix}, key=len, reverse=True):
        text = text.replace(prefix + os.sep, "<python>/")
    return text


def write_section(heading: str, text: str) -> None:
    """Replaces the section under ``heading`` (``"## Pruning"``) with ``text``, or appends it."""
    text = relative_paths(text)
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    section = f"{heading}\n\n{text.strip()}\n\n"
    new = pattern.sub(lambda _: section, old, count=1) if pattern.search(old) else old.rstrip() + "\n\n" + section
    RESULTS.write_text(new.rstrip("\n") + "\n")
