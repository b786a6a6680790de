"""Benchmark: graphsurgeon.prune vs tf.compat.v1.graph_util.extract_sub_graph.

Synthetic graphs of 10k, 100k and 1M nodes, two shapes, each pruned to an output that reaches
about half of the nodes:

- deep: two independent chains; every node takes the previous one and the one before that
  (``a`` and ``b:0``), so the graph is 2 inputs a node and ~n/2 deep.
- wide: two independent layered blocks of width 1000; every node takes two nodes of the
  previous layer; the output is one node that adds up the last layer of block 0 (so the
  breadth-first frontier is 1000 wide).

Both tools get an already parsed GraphDef (ours, and TensorFlow's made from the same bytes);
our time includes building the GraphView (with its networkx DiGraph) inside ``prune``. Each
measurement is the best of ``--repeat`` runs, alternating the two tools so machine load hits
both alike.

    python benchmarks/bench_prune.py [--sizes 10000,100000,1000000] [--repeat 3] [--write]

``--write`` replaces the "## Pruning" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import pathlib
import platform
import re
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from graphsurgeon._proto import graph_pb2  # noqa: E402
from graphsurgeon.graph.view import GraphView  # noqa: E402
from graphsurgeon.rewrite.prune import prune  # noqa: E402

RESULTS = pathlib.Path(__file__).parent / "RESULTS.md"


def deep_graph(n: int) -> tuple[graph_pb2.GraphDef, str]:
    graph_def = graph_pb2.GraphDef()
    half = n // 2
    add = graph_def.node.add
    for chain in range(2):
        for i in range(half):
            inputs = []
            if i > 0:
                inputs.append(f"c{chain}/n{i - 1}")
            if i > 1:
                inputs.append(f"c{chain}/n{i - 2}:0")
            add(name=f"c{chain}/n{i}", op="AddV2" if i else "Placeholder", input=inputs)
    return graph_def, f"c0/n{half - 1}"


def wide_graph(n: int, width: int = 1000) -> tuple[graph_pb2.GraphDef, str]:
    graph_def = graph_pb2.GraphDef()
    layers = max(2, n // (2 * width))
    add = graph_def.node.add
    for block in range(2):
        for layer in range(layers):
            for j in range(width):
                if layer == 0:
                    add(name=f"b{block}/l0/n{j}", op="Placeholder")
                else:
                    prev = f"b{block}/l{layer - 1}/n"
                    add(name=f"b{block}/l{layer}/n{j}", op="AddV2",
                        input=[f"{prev}{j}", f"{prev}{(j + 1) % width}"])
    last = f"b0/l{layers - 1}/n"
    add(name="out", op="AddN", input=[f"{last}{j}" for j in range(width)])
    return graph_def, "out"


def best_of(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
        del result
        result = None
    return best, result


def measure(kind: str, n: int, repeat: int) -> dict[str, object]:
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2 as tf_graph_pb2

    graph_def, output = (deep_graph if kind == "deep" else wide_graph)(n)
    data = graph_def.SerializeToString()
    tf_graph_def = tf_graph_pb2.GraphDef.FromString(data)
    ours = prune(graph_def, [output])
    theirs = tf.compat.v1.graph_util.extract_sub_graph(tf_graph_def, [output])
    assert [n.name for n in ours.node] == [n.name for n in theirs.node], "prune and TF kept different nodes"
    kept = len(ours.node)
    del ours, theirs
    t_ours = t_tf = t_view = float("inf")
    for _ in range(repeat):
        t_ours = min(t_ours, best_of(lambda: prune(graph_def, [output]), 1)[0])
        t_tf = min(t_tf, best_of(lambda: tf.compat.v1.graph_util.extract_sub_graph(tf_graph_def, [output]), 1)[0])
        t_view = min(t_view, best_of(lambda: GraphView(graph_def), 1)[0])
    return {"kind": kind, "nodes": len(graph_def.node), "kept": kept, "ours": t_ours, "tf": t_tf, "view": t_view}


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| graph | nodes | kept | GraphView alone (s) | gs prune (s) | TF extract_sub_graph (s) | ratio gs/TF |"
             " gs s per 1M nodes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['nodes']:,} | {r['kept']:,} | {r['view']:.3f} | {r['ours']:.3f} | "
                     f"{r['tf']:.3f} | {r['ours'] / r['tf']:.2f} | {r['ours'] / r['nodes'] * 1e6:.2f} |")
    return "\n".join(lines)


def write_section(body: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    section = "## Pruning\n\n" + body.strip() + "\n"
    pattern = re.compile(r"^## Pruning\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--kinds", default="deep,wide")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the section into benchmarks/RESULTS.md")
    args = parser.parse_args()
    import google.protobuf
    import networkx as nx
    import tensorflow as tf

    rows = []
    for kind in args.kinds.split(","):
        for n in (int(s) for s in args.sizes.split(",")):
            row = measure(kind, n, args.repeat if n < 1_000_000 else min(args.repeat, 2))
            rows.append(row)
            print(f"{kind:5} {row['nodes']:>9,} nodes, kept {row['kept']:>9,}: view {row['view']:.3f}s  "
                  f"gs {row['ours']:.3f}s  TF {row['tf']:.3f}s  ratio {row['ours'] / row['tf']:.2f}", flush=True)
    result = table(rows)
    print(result)
    if args.write:
        from google.protobuf.internal import api_implementation

        env = (f"Python {platform.python_version()}, TensorFlow {tf.__version__}, networkx {nx.__version__}, "
               f"protobuf {google.protobuf.__version__} ({api_implementation.Type()}), "
               f"{platform.machine()} with {os.cpu_count()} CPUs (shared with other jobs; best of "
               f"{args.repeat} runs, 2 at 1M nodes).")
        write_section(
            "`python benchmarks/bench_prune.py --write`: `graphsurgeon.prune` (including building the "
            "GraphView and its networkx DiGraph) against `tf.compat.v1.graph_util.extract_sub_graph` on the "
            "same synthetic graphs, each pruned to an output that reaches about half of the nodes. Both get "
            "an already parsed GraphDef; both keep the same nodes in the same order (checked).\n\n"
            f"{env}\n\n{result}\n\nGoal: at most 0.5x TensorFlow's time at 1M nodes, deep and wide, and "
            "linear growth (the last column stays flat).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
