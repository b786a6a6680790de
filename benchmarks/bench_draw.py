"""Benchmark: `gs draw` and `gs diff` on large graphs, and how long the page's layout takes.

The graph looks like a real model: ``blocks`` namespaces of ``layers`` layers, each layer a
weight constant (1 KiB), a Conv2D, a BiasAdd (with its bias constant) and a Relu, chained (names
``model/block_B/layer_L/op``: three levels of namespaces, 400 blocks at 100k nodes). Measured,
wall seconds of the whole command in a fresh process (start-up, reading the file, drawing or
comparing, writing), best of ``--repeat``:

- ``gs draw g.pb -o g.html`` (default depth: auto) and, when Graphviz is installed, ``-o g.svg``;
- ``gs diff g.pb g2.pb`` where g2 changes 1% of the constants, removes 1% of the layers' Relus
  (rewiring their consumers) and adds 100 nodes.

``--layout`` also measures the layout itself (the vendored Viz.js, run by ``node``, the same
WebAssembly the page runs) on flat random DAGs of 500 .. 4,000 boxes with 1.5 edges a box, the
measurement behind ``graphsurgeon.draw.MAX_BOXES``.

    python benchmarks/bench_draw.py [--nodes 100000] [--repeat 3] [--layout] [--write]

``--write`` replaces the "## Drawing and diffing" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time

import results  # benchmarks/results.py, beside this script

from graphsurgeon._proto import graph_pb2  # noqa: E402
from graphsurgeon.draw import build_drawing, to_dot  # noqa: E402
from graphsurgeon.formats.model import save_graph  # noqa: E402
from graphsurgeon.formats.tensors import array_to_tensor  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
VIZ = ROOT / "graphsurgeon" / "_vendor" / "viz-js" / "viz-global.js"


def model_graph(nodes: int, seed: int = 0) -> graph_pb2.GraphDef:
    """About ``nodes`` nodes: model/block_B/layer_L/{weights, Conv2D, bias, BiasAdd, Relu}."""
    rng = random.Random(seed)
    g = graph_pb2.GraphDef()
    x = g.node.add(name="input", op="Placeholder")
    prev = x.name
    layers_per_block = 50
    count = 1
    block = 0
    while count + 6 <= nodes:
        for layer in range(layers_per_block):
            if count + 6 > nodes:
                break
            scope = f"model/block_{block}/layer_{layer}"
            w = g.node.add(name=f"{scope}/weights", op="Const")
            w.attr["dtype"].type = 1
            w.attr["value"].tensor.CopyFrom(array_to_tensor(
                [rng.random() for _ in range(256)] if layer % 10 == 0 else [0.5] * 256))
            conv = g.node.add(name=f"{scope}/Conv2D", op="Conv2D", input=[prev, w.name])
            conv.attr["T"].type = 1
            b = g.node.add(name=f"{scope}/bias", op="Const")
            b.attr["dtype"].type = 1
            b.attr["value"].tensor.CopyFrom(array_to_tensor([0.0] * 4))
            add = g.node.add(name=f"{scope}/BiasAdd", op="BiasAdd", input=[conv.name, b.name])
            relu = g.node.add(name=f"{scope}/Relu", op="Relu", input=[add.name])
            prev = relu.name
            count += 5
        block += 1
    return g


def changed_copy(g: graph_pb2.GraphDef, seed: int = 1) -> graph_pb2.GraphDef:
    """1% of the weights scaled, 1% of the Relus removed (consumers rewired), 100 nodes added."""
    rng = random.Random(seed)
    out = graph_pb2.GraphDef()
    out.CopyFrom(g)
    relus = [n for n in out.node if n.op == "Relu"]
    dropped = {n.name: n.input[0] for n in rng.sample(relus, len(relus) // 100)}
    keep = [n for n in out.node if n.name not in dropped]
    for n in keep:
        for i, name in enumerate(n.input):
            while name in dropped:
                name = dropped[name]
            n.input[i] = name
        if n.op == "Const" and n.name.endswith("weights") and rng.random() < 0.01:
            n.attr["value"].tensor.CopyFrom(array_to_tensor([0.25] * 256))
    del out.node[:]
    out.node.extend(keep)
    for i in range(100):
        out.node.add(name=f"extra/n{i}", op="NoOp")
    return out


def timed_command(argv: list[str], repeat: int) -> float:
    best = float("inf")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "graphsurgeon", *argv], env=env, capture_output=True, text=True)
        took = time.perf_counter() - start
        if done.returncode not in (0, 1):
            raise SystemExit(f"{argv} failed: {done.stderr}")
        best = min(best, took)
    return best


def random_dag(n: int, seed: int = 0) -> graph_pb2.GraphDef:
    rng = random.Random(seed)
    g = graph_pb2.GraphDef()
    for i in range(n):
        node = g.node.add(name=f"n{i}", op=rng.choice(["Conv2D", "Relu", "AddV2", "Const"]))
        for _ in range(min(i, rng.choice([1, 1, 2, 2]))):
            node.input.append(f"n{rng.randrange(max(0, i - 30), i)}")
    return g


def layout_seconds(sizes: list[int], work: pathlib.Path) -> list[tuple[int, int, float]]:
    """(boxes, edges, seconds) of Viz.js's layout in node, for flat random DAGs."""
    node = shutil.which("node")
    if node is None:
        print("node is not installed: skipping the layout measurement")
        return []
    script = work / "layout.cjs"
    script.write_text(
        f"const Viz = require({str(VIZ)!r}); const fs = require('fs');\n"
        "Viz.instance().then(viz => { for (const f of process.argv.slice(2)) {\n"
        "  const dot = fs.readFileSync(f, 'utf8'); const t = process.hrtime.bigint();\n"
        "  viz.renderString(dot, {format: 'svg'});\n"
        "  console.log(Number(process.hrtime.bigint() - t) / 1e9); } });\n")
    rows, files = [], []
    for n in sizes:
        drawing = build_drawing(random_dag(n), depth="all", max_boxes=10**9, max_edges=10**9)
        path = work / f"dag{n}.dot"
        path.write_text(to_dot(drawing))
        files.append(path)
        rows.append((len(drawing.boxes), len(drawing.edges)))
    out = subprocess.run([node, str(script), *map(str, files)], capture_output=True, text=True, check=True).stdout
    return [(b, e, float(s)) for (b, e), s in zip(rows, out.split())]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--layout", action="store_true", help="also measure Viz.js's layout time (needs node)")
    parser.add_argument("--write", action="store_true", help="write the section into benchmarks/RESULTS.md")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as tmp:
        work = pathlib.Path(tmp)
        g = model_graph(args.nodes)
        g2 = changed_copy(g)
        save_graph(g, work / "g.pb")
        save_graph(g2, work / "g2.pb")
        size = (work / "g.pb").stat().st_size
        print(f"graph: {len(g.node):,} nodes, {size / 2**20:.1f} MiB; changed copy {len(g2.node):,} nodes")
        draw_html = timed_command(["draw", str(work / "g.pb"), "-o", str(work / "g.html")], args.repeat)
        rows.append(("gs draw g.pb -o g.html", draw_html))
        if shutil.which("dot"):
            rows.append(("gs draw g.pb -o g.svg", timed_command(["draw", str(work / "g.pb"), "-o",
                                                                  str(work / "g.svg")], args.repeat)))
        rows.append(("gs diff g.pb g2.pb", timed_command(["diff", str(work / "g.pb"), str(work / "g2.pb")],
                                                         args.repeat)))
        rows.append(("gs diff g.pb g.pb (equal)", timed_command(["diff", str(work / "g.pb"), str(work / "g.pb")],
                                                                args.repeat)))
        for name, seconds in rows:
            print(f"{name:32} {seconds:.2f} s")
        layout = layout_seconds([500, 1000, 1500, 2000, 3000, 4000], work) if args.layout else []
        for boxes, edges, seconds in layout:
            print(f"layout {boxes:>5} boxes {edges:>5} edges: {seconds:.2f} s")
    if args.write:
        table = ["| command | wall s |", "|---|---:|"] + [f"| `{name}` | {s:.2f} |" for name, s in rows]
        text = (f"`python benchmarks/bench_draw.py --layout --write`: a {len(g.node):,}-node graph "
                f"({size / 2**20:.1f} MiB; names model/block_B/layer_L/op, a Conv2D layer every 5 nodes, 400 blocks) "
                "drawn (default --depth auto: one box a block) and compared, "
                "wall seconds of the whole command in a fresh process (start-up included), best of "
                f"{args.repeat}. Python {platform.python_version()}, {platform.machine()} with {os.cpu_count()} "
                "CPUs shared with other jobs.\n\n" + "\n".join(table))
        if layout:
            text += ("\n\nLayout in the page (the vendored Viz.js run by node, the same WebAssembly), flat random "
                     "DAGs (the first row includes compiling the WebAssembly); `graphsurgeon.draw.MAX_BOXES` "
                     "is set from this:\n\n| boxes | edges | layout s |\n"
                     "|---:|---:|---:|\n" + "\n".join(f"| {b:,} | {e:,} | {s:.2f} |" for b, e, s in layout))
        results.write_section("## Drawing and diffing", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
