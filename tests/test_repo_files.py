"""Committed files say nothing about the machine they were made on."""

from __future__ import annotations

import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parent.parent
ABSOLUTE = re.compile(r"(?<![\w.])/(?:tmp|work|root|home|Users|private/var)/[^\s'\"`)]*")


def test_benchmark_results_hold_no_absolute_paths() -> None:
    text = (REPO / "benchmarks" / "RESULTS.md").read_text()
    found = ABSOLUTE.findall(text)
    assert not found, f"benchmarks/RESULTS.md names paths of one machine: {found[:5]}"


def test_results_writer_makes_paths_relative() -> None:
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import results
    finally:
        sys.path.pop(0)
    text = f"gs: error: '{REPO}/benchmarks/work/gs.pb' would be 2.2 GiB\n  {sys.prefix}/lib/inspect.py:867(cleandoc)"
    out = results.relative_paths(text)
    assert out == "gs: error: 'benchmarks/work/gs.pb' would be 2.2 GiB\n  <python>/lib/inspect.py:867(cleandoc)"
