"""Benchmark: the NVIDIA graphsurgeon API (DynamicGraph) on large SSD-like graphs.

Synthetic graphs of 10k .. 1M nodes shaped like a frozen detector: a chain of blocks, each a
``Const`` weight, its ``weights/read`` Identity and a ``MatMul``; one block in three sits under
one of 60 namespaces (``Postprocessor_<k>``), collapsed into 30 plugin nodes (two namespaces per
plugin), and one ``Assert`` per 1000 blocks with a small chain it alone consumes, under a
control dependency of an ``Identity``. The steps are the README's TensorRT SSD ``config.py``:
load the ``.pb``, ``remove(Asserts, remove_exclusive_dependencies=True)``, ``collapse_namespaces``,
``remove(graph_outputs)``, ``forward_inputs(Identity nodes)``, ``write``. There is nothing to
compare against (NVIDIA's package needs TensorFlow 1), so the measure is CPU seconds per
million nodes, which should stay flat as the graph grows.

    python benchmarks/bench_nvidia.py [--sizes 10000,100000,1000000] [--repeat 3] [--write]

``--write`` replaces the "## NVIDIA graphsurgeon API" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import pathlib
import platform
import sys
import tempfile
import time

import results  # benchmarks/results.py, beside this script

import graphsurgeon as gs
from graphsurgeon._proto import graph_pb2

STEPS = ["load", "remove Asserts (exclusive)", "collapse_namespaces", "remove(graph_outputs)", "forward_inputs",
         "write"]


def ssd_like(n: int) -> graph_pb2.GraphDef:
    graph = graph_pb2.GraphDef()
    graph.node.add(name="image", op="Placeholder")
    previous = "image"
    blocks = max(1, n // 3)
    for i in range(blocks):
        scope = f"Postprocessor_{i % 60}/" if i % 3 == 0 else "FeatureExtractor/"
        weight = f"{scope}block_{i}/weights"
        graph.node.add(name=weight, op="Const")
        graph.node.add(name=f"{weight}/read", op="Identity", input=[weight])
        inputs = [previous, f"{weight}/read"]
        if i % 1000 == 999:
            check = f"{scope}block_{i}/check"
            graph.node.add(name=f"{check}/y", op="Const")
            graph.node.add(name=f"{check}/Less", op="Less", input=[previous, f"{check}/y"])
            graph.node.add(name=f"{check}/Assert", op="Assert", input=[f"{check}/Less", f"{check}/y"])
            graph.node.add(name=f"{check}/Identity", op="Identity", input=[previous, "^" + f"{check}/Assert"])
            inputs[0] = f"{check}/Identity"
        graph.node.add(name=f"{scope}block_{i}/MatMul", op="MatMul", input=inputs)
        previous = f"{scope}block_{i}/MatMul"
    graph.node.add(name="detections", op="Identity", input=[previous])
    return graph


def run(path: pathlib.Path, out: pathlib.Path) -> tuple[list[float], int]:
    times = []
    clock = time.process_time
    start = clock()
    graph = gs.DynamicGraph(str(path))
    times.append(clock() - start)
    start = clock()
    graph.remove(graph.find_nodes_by_op("Assert"), remove_exclusive_dependencies=True)
    times.append(clock() - start)
    plugins = [gs.create_plugin_node(f"Plugin_{k}", op="Block_TRT", index=k) for k in range(30)]
    start = clock()
    graph.collapse_namespaces({f"Postprocessor_{k}": plugins[k % 30] for k in range(60)})
    times.append(clock() - start)
    start = clock()
    graph.remove(graph.graph_outputs)
    times.append(clock() - start)
    start = clock()
    graph.forward_inputs(graph.find_nodes_by_op("Identity"))
    times.append(clock() - start)
    start = clock()
    graph.write(out)
    times.append(clock() - start)
    return times, len(graph)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args()
    rows = []
    work = pathlib.Path(__file__).parent / "work"  # run.py's work directory, when it runs us
    with tempfile.TemporaryDirectory(dir=work if work.is_dir() else None) as tmp:
        for size in (int(s) for s in args.sizes.split(",")):
            path = pathlib.Path(tmp) / f"ssd_{size}.pb"
            graph = ssd_like(size)
            nodes = len(graph.node)
            path.write_bytes(graph.SerializeToString())
            del graph
            best: list[float] | None = None
            for _ in range(args.repeat):
                gc.collect()
                times, left = run(path, pathlib.Path(tmp) / "out.pb")
                best = times if best is None else [min(a, b) for a, b in zip(best, times)]
            assert best is not None
            total = sum(best)
            rows.append((nodes, left, best, total))
            print(f"{nodes:>9,} nodes -> {left:,}: " + ", ".join(f"{s} {t:.3f}" for s, t in zip(STEPS, best))
                  + f"; total {total:.2f} s CPU ({total / nodes * 1e6:.2f} s per 1M nodes)", flush=True)
    header = "| nodes | left | " + " | ".join(STEPS) + " | total | per 1M nodes |"
    lines = [header, "|" + "---:|" * (len(STEPS) + 4)]
    for nodes, left, best, total in rows:
        lines.append(f"| {nodes:,} | {left:,} | " + " | ".join(f"{t:.3f}" for t in best)
                     + f" | {total:.2f} | {total / nodes * 1e6:.2f} |")
    text = (
        f"`python benchmarks/bench_nvidia.py --write`: the README's TensorRT SSD `config.py` steps through "
        f"`gs.DynamicGraph` on synthetic SSD-like graphs (weight Const + `read` Identity + MatMul blocks, a "
        f"third of them in 60 namespaces collapsed into 30 plugins, an Assert chain per 1000 blocks). CPU "
        f"seconds (`time.process_time`), best of {args.repeat}; Python {platform.python_version()}, "
        f"{platform.machine()}, shared machine. No TensorFlow involved.\n\n" + "\n".join(lines)
        + "\n\n`remove(graph_outputs)` deletes a single node, so its time is what every edit pays to rebuild "
        "`node_map`, `node_outputs`, `graph_inputs` and `graph_outputs`, which NVIDIA's API refreshes after each edit."
    )
    if args.write:
        results.write_section("## NVIDIA graphsurgeon API", text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
