"""Runs every benchmark, one after the other, each as its own process.

    python benchmarks/run.py            # full sizes; rewrites the sections of benchmarks/RESULTS.md
    python benchmarks/run.py --quick    # small sizes, a few minutes; prints, writes nothing
    python benchmarks/run.py --only freeze,prune

Benchmarks (each can also be run alone, see its docstring):

- bench_freeze.py: ``gs freeze`` vs TensorFlow's freeze_graph vs a plain copy, 10 MiB .. 1.8 GiB,
  and the failure above 2 GiB ("## Freezing");
- bench_checkpoint.py: reading / listing a 1 GiB checkpoint vs TensorFlow ("## Checkpoint reading");
- bench_prune.py: pruning 10k .. 1M nodes vs extract_sub_graph ("## Pruning");
- bench_optimize.py: ``gs optimize`` vs TensorFlow's optimize_for_inference on TF-Slim VGG-16,
  Inception v3 and MobileNet v1 ("## Optimizing");
- bench_nvidia.py: the README's TensorRT SSD config.py steps through gs.DynamicGraph, 10k .. 1M nodes
  ("## NVIDIA graphsurgeon API").
- bench_draw.py: gs draw and gs diff on a 100k-node graph, and the page's layout time by size
  ("## Drawing and diffing"; the layout part needs node).

Work files go to benchmarks/work/ (gitignored) and are deleted afterwards.
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
WORK = HERE / "work"

FULL = {
    "freeze": ["bench_freeze.py", "--sizes", "10,100,1024,1843", "--runs", "5,3,3,3", "--over-limit", "2250"],
    "checkpoint": ["bench_checkpoint.py", "--gib", "1", "--repeat", "5"],
    "prune": ["bench_prune.py", "--sizes", "10000,100000,1000000", "--repeat", "3"],
    "optimize": ["bench_optimize.py", "--runs", "3"],
    "nvidia": ["bench_nvidia.py", "--sizes", "10000,100000,1000000", "--repeat", "3"],
    "draw": ["bench_draw.py", "--nodes", "100000", "--repeat", "3", "--layout"],
}
QUICK = {
    "freeze": ["bench_freeze.py", "--sizes", "10,100", "--real-runs", "1", "--runs", "2"],
    "checkpoint": ["bench_checkpoint.py", "--gib", "0.05", "--repeat", "2"],
    "prune": ["bench_prune.py", "--sizes", "10000,100000", "--repeat", "1"],
    "optimize": ["bench_optimize.py", "--models", "mobilenet_v1", "--runs", "1"],
    "nvidia": ["bench_nvidia.py", "--sizes", "10000,100000", "--repeat", "1"],
    "draw": ["bench_draw.py", "--nodes", "20000", "--repeat", "1"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes; does not touch RESULTS.md unless --write")
    parser.add_argument("--write", action=argparse.BooleanOptionalAction, default=None,
                        help="update benchmarks/RESULTS.md (default: yes for a full run, no with --quick)")
    parser.add_argument("--only", default=",".join(FULL), help="comma-separated subset of: " + ", ".join(FULL))
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    write = (not args.quick) if args.write is None else args.write
    chosen = [name for name in args.only.split(",") if name]
    unknown = [name for name in chosen if name not in plan]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(plan)}")
    failures = []
    started = time.perf_counter()
    WORK.mkdir(exist_ok=True)
    try:
        for name in chosen:
            argv = [sys.executable, str(HERE / plan[name][0]), *plan[name][1:]] + (["--write"] if write else [])
            print(f"== {name}: {' '.join(argv[1:])}", flush=True)
            begun = time.perf_counter()
            code = subprocess.call(argv, cwd=HERE.parent)
            print(f"== {name}: exit {code} after {time.perf_counter() - begun:.0f} s", flush=True)
            if code:
                failures.append(name)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    print(f"== all done in {time.perf_counter() - started:.0f} s" + (f"; FAILED: {', '.join(failures)}"
                                                                        if failures else ""))
    if write and not failures:
        print(f"== results: {HERE / 'RESULTS.md'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
