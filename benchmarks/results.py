"""Writes one benchmark's section of benchmarks/RESULTS.md, leaving the other sections as they are."""

from __future__ import annotations

import pathlib
import re

RESULTS = pathlib.Path(__file__).parent / "RESULTS.md"


def write_section(heading: str, text: str) -> None:
    """Replaces the section under ``heading`` (``"## Pruning"``) with ``text``, or appends it."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    section = f"{heading}\n\n{text.strip()}\n\n"
    new = pattern.sub(lambda _: section, old, count=1) if pattern.search(old) else old.rstrip() + "\n\n" + section
    RESULTS.write_text(new.rstrip("\n") + "\n")
