"""gs draw: what is drawn (collapse, focus, colours, sizes, limits), the DOT, SVG and HTML outputs,
and the page in a real headless Chromium (marked ``browser``; skipped when chromium is absent)."""

from __future__ import annotations

import hashlib
import json
import pathlib
import re
import shutil
import subprocess
from collections import Counter

import numpy as np
import pytest

from graphsurgeon import draw
from graphsurgeon._proto import graph_pb2
from graphsurgeon.cli import main
from graphsurgeon.draw import AUTO_BOXES, MAX_BOXES, OP_KINDS, build_drawing, to_dot, to_html
from graphsurgeon.errors import MissingDependencyError, UnsupportedError
from graphsurgeon.formats.model import load_graph
from graphsurgeon.formats.tensors import tensor_to_array
from graphsurgeon.graph.view import GraphView
from graphsurgeon.rewrite.prune import prune

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
INCEPTION = FIXTURES / "surgery" / "inception_v3" / "frozen.pb"   # TF-Slim InceptionV3, frozen, 1186 nodes
CNN = FIXTURES / "graphs" / "cnn_bn.pb"                          # conv + batch norm under cond + training
VENDOR = ROOT / "graphsurgeon" / "_vendor" / "viz-js"


def graph(path: pathlib.Path) -> graph_pb2.GraphDef:
    return load_graph(path).graph_def


def source_nodes(node) -> list[str]:  # noqa: ANN001
    return [i.lstrip("^").rsplit(":", 1)[0] if ":" in i else i.lstrip("^") for i in node.input]


# --- the vendored layout library ---------------------------------------------------------------


def test_vendored_viz_is_pinned_with_its_licence():
    readme = (VENDOR / "README.md").read_text()
    pinned = re.search(r"`viz-global.js` sha256: `([0-9a-f]{64})`", readme).group(1)
    assert hashlib.sha256((VENDOR / "viz-global.js").read_bytes()).hexdigest() == pinned
    licence = (VENDOR / "LICENSE").read_text()
    assert "MIT License" in licence and "Graphviz" in licence and "Eclipse Public License" in licence
    setup = (ROOT / "setup.cfg").read_text()
    for name in ("viz-global.js", "LICENSE"):
        assert f"_vendor/viz-js/{name}" in setup, "the wheel must ship the vendored file and its licence"


# --- what is drawn -----------------------------------------------------------------------------


def test_inception_collapses_to_its_blocks_at_a_glance():
    g = graph(INCEPTION)
    drawing = build_drawing(g)
    assert drawing.depth == "auto" and len(drawing.boxes) <= AUTO_BOXES
    # TF-Slim keeps the weights of block B under InceptionV3/B and its ops under InceptionV3/InceptionV3/B:
    # the ops' namespace holds most of the work, so it is opened one level further.
    expected = Counter("/".join(n.name.split("/")[:3 if n.name.startswith("InceptionV3/InceptionV3/") else 2])
                       for n in g.node)
    assert {b.name: b.count for b in drawing.boxes} == dict(expected)
    names = [b.name for b in drawing.boxes]
    for block in ("Mixed_5b", "Mixed_6a", "Mixed_7c"):
        assert f"InceptionV3/{block}" in names and f"InceptionV3/InceptionV3/{block}" in names
    ops = next(b for b in drawing.boxes if b.name == "InceptionV3/InceptionV3/Mixed_5b")
    assert ops.namespace and ops.kind == "conv"
    assert ops.ops == Counter(n.op for n in g.node if n.name.startswith("InceptionV3/InceptionV3/Mixed_5b/"))
    weights = next(b for b in drawing.boxes if b.name == "InceptionV3/Mixed_5b")
    members = [n for n in g.node if n.name.startswith("InceptionV3/Mixed_5b/")]
    assert weights.ops == Counter(n.op for n in members) == Counter({"Const": 28, "Identity": 28})
    # constants' bytes, checked against the decoded arrays
    assert weights.const_bytes == sum(tensor_to_array(n.attr["value"].tensor).nbytes for n in members
                                      if n.op == "Const") > 0
    assert sum(b.count for b in drawing.boxes) == len(g.node) == drawing.nodes_drawn
    dot = to_dot(drawing)
    assert f"{ops.count} nodes:" in dot and "constants 49.1 KiB" in dot
    # one uniform depth: the blocks' ops in one box
    uniform = build_drawing(g, depth=2)
    assert {b.name: b.count for b in uniform.boxes} == dict(Counter("/".join(n.name.split("/")[:2]) for n in g.node))


def test_depth_all_draws_every_node_and_edge():
    g = graph(CNN)
    drawing = build_drawing(g, depth="all")
    assert drawing.depth is None and len(drawing.boxes) == len(g.node)
    ids = {b.id: b.name for b in drawing.boxes}
    drawn = {(ids[e.src], ids[e.dst]) for e in drawing.edges}
    expected = {(src, n.name) for n in g.node for src in source_nodes(n) if src != n.name}
    assert drawn == expected
    control_only = {(ids[e.src], ids[e.dst]) for e in drawing.edges if e.control}
    data = {(i.rsplit(":", 1)[0], n.name) for n in g.node for i in n.input if not i.startswith("^")}
    assert control_only == expected - data


def test_depth_one_and_edges_between_boxes():
    g = graph(CNN)
    drawing = build_drawing(g, depth=1)
    top = Counter(n.name.split("/")[0] for n in g.node)
    assert {b.name: b.count for b in drawing.boxes} == dict(top)
    ids = {b.id: b.name for b in drawing.boxes}
    expected = {(s.split("/")[0], n.name.split("/")[0]) for n in g.node for s in source_nodes(n)}
    assert {(ids[e.src], ids[e.dst]) for e in drawing.edges} == {p for p in expected if p[0] != p[1]}


def test_constants_show_dtype_shape_and_size():
    g = graph(INCEPTION)
    drawing = build_drawing(g, depth="all")
    node = next(n for n in g.node if n.name == "InceptionV3/Conv2d_1a_3x3/weights")
    array = tensor_to_array(node.attr["value"].tensor)
    box = next(b for b in drawing.boxes if b.name == node.name)
    shape = "[" + ",".join(map(str, array.shape)) + "]"
    assert box.detail.startswith(f"float32 {shape} ") and box.const_bytes == array.nbytes
    assert f"Const float32 {shape}" in to_dot(drawing)


def test_colours_by_op_kind():
    g = graph(CNN)
    dot = to_dot(build_drawing(g, depth="all"))
    for name, kind in (("conv1/Conv2D", "conv"), ("fc/MatMul", "matmul"), ("images", "placeholder"),
                       ("bn1/cond/Switch", "control flow"), ("conv1/kernel", "variable")):
        line = next(line for line in dot.splitlines() if f'label="{name}\\n' in line)
        assert f'fillcolor="{OP_KINDS[kind][0]}"' in line, (name, line)


def test_outputs_draws_what_prune_keeps():
    g = graph(CNN)
    drawing = build_drawing(g, depth="all", outputs=["probs"])
    kept = {n.name for n in prune(g, ["probs"]).node}
    assert {b.name for b in drawing.boxes} == kept
    assert next(b for b in drawing.boxes if b.name == "probs").highlight == "output"


@pytest.mark.parametrize("radius", [0, 1, 2])
def test_around_draws_a_neighbourhood(radius):
    g = graph(CNN)
    by_name = {n.name: n for n in g.node}
    neighbours: dict[str, set[str]] = {n: set() for n in by_name}
    for n in g.node:
        for src in source_nodes(n):
            neighbours[n.name].add(src)
            neighbours[src].add(n.name)
    ring, seen = {"conv1/Conv2D"}, {"conv1/Conv2D"}
    for _ in range(radius):
        ring = {m for r in ring for m in neighbours[r]} - seen
        seen |= ring
    drawing = build_drawing(g, depth="all", around="conv1/Conv2D", radius=radius)
    assert {b.name for b in drawing.boxes} == seen
    assert next(b for b in drawing.boxes if b.name == "conv1/Conv2D").highlight == "focus"


def test_why_highlights_the_chain():
    g = graph(CNN)
    chain = GraphView(g).why("conv1/kernel", ["probs"])
    drawing = build_drawing(g, depth="all", outputs=["probs"], why="conv1/kernel")
    assert {b.name for b in drawing.boxes if b.highlight == "why"} == set(chain)
    ids = {b.id: b.name for b in drawing.boxes}
    assert {(ids[e.src], ids[e.dst]) for e in drawing.edges if e.highlight} == set(zip(chain, chain[1:]))
    assert " -> ".join(chain) in " ".join(drawing.notes)
    # collapsed: the boxes holding the chain are highlighted
    collapsed = build_drawing(g, depth=1, outputs=["probs"], why="conv1/kernel")
    assert {b.name for b in collapsed.boxes if b.highlight == "why"} == {c.split("/")[0] for c in chain}


def flat_graph(n: int, scopes: int = 0) -> graph_pb2.GraphDef:
    g = graph_pb2.GraphDef()
    for i in range(n):
        name = f"s{i % scopes}/n{i}" if scopes else f"n{i}"
        g.node.add(name=name, op="Relu", input=[g.node[i - 1].name] if i else [])
    return g


def test_too_large_is_collapsed_or_refused(tmp_path, capsys):
    with pytest.raises(UnsupportedError, match="too large to draw.*--outputs.*--around"):
        build_drawing(flat_graph(MAX_BOXES + 1), depth="all")
    drawing = build_drawing(flat_graph(MAX_BOXES + 1, scopes=10), depth="all")
    assert drawing.depth == 1 and len(drawing.boxes) == 10
    assert any(f"would draw {MAX_BOXES + 1} boxes" in note for note in drawing.notes)
    # the CLI: one line, exit 1, nothing written
    path = tmp_path / "flat.pb"
    path.write_bytes(flat_graph(MAX_BOXES + 1).SerializeToString())
    out = tmp_path / "flat.html"
    capsys.readouterr()
    assert main(["draw", str(path), "-o", str(out), "--depth", "all"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gs: error: too large to draw") and err.count("\n") == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [path]
    # a part of it can be drawn
    assert main(["draw", str(path), "-o", str(out), "--around", "n500", "--radius", "3"]) == 0
    assert "7 nodes within 3 edges of 'n500'" in capsys.readouterr().out


# --- outputs -----------------------------------------------------------------------------------


def test_html_page_is_self_contained():
    drawing = build_drawing(graph(CNN))
    page = to_html(drawing)
    assert "<script src" not in page and "<link" not in page and "<iframe" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert (VENDOR / "viz-global.js").read_text() in page
    dot = json.loads(re.search(r"var DOT = (.*);\n", page).group(1))
    assert dot == to_dot(drawing)


def test_names_cannot_break_out_of_the_page():
    g = graph_pb2.GraphDef()
    g.node.add(name="a</script><script>alert(1)</script>", op="Placeholder")
    g.node.add(name='b"\\n', op="Relu", input=[g.node[0].name])
    page = to_html(build_drawing(g, title="<b>x</b>"))
    assert "alert(1)</script>" not in page and "<b>x</b>" not in page
    dot = json.loads(re.search(r"var DOT = (.*);\n", page).group(1))
    assert 'label="b\\"\\\\n\\nRelu"' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_svg_through_graphviz(tmp_path, capsys):
    out = tmp_path / "cnn.svg"
    assert main(["draw", str(CNN), "-o", str(out), "--depth", "all"]) == 0
    svg = out.read_text()
    assert svg.count('<g id="node') == len(graph(CNN).node)
    convs = [n.name for n in graph(CNN).node if n.op in OP_KINDS["conv"][1]]
    assert "conv1/Conv2D" in convs and svg.count('class="node op kind_conv"') == len(convs)


def test_svg_without_graphviz_names_the_package(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(draw.shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError, match="graphviz"):
        draw.to_svg(build_drawing(graph(CNN)))
    out = tmp_path / "cnn.svg"
    capsys.readouterr()
    assert main(["draw", str(CNN), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "install the graphviz package" in err and "-o graph.html" in err and not out.exists()


def test_cli_draw(tmp_path, capsys):
    out = tmp_path / "why.dot"
    assert main(["draw", str(CNN), "-o", str(out), "--outputs", "probs", "--why", "conv1/kernel"]) == 0
    text = capsys.readouterr().out
    assert "note   in red, why the outputs keep 'conv1/kernel'" in text and "wrote  " in text
    assert out.read_text().startswith("digraph graphsurgeon {")
    for argv, message in [
        (["-o", str(tmp_path / "x.png")], "cannot tell the drawing format"),
        (["-o", str(tmp_path / "x.html"), "--around", "conv1/Conv2"], "did you mean 'conv1/Conv2D'"),
        (["-o", str(tmp_path / "x.html"), "--why", "conv1/kernel"], "--why NODE needs --outputs"),
        (["-o", str(CNN), "--format", "dot"], "is the same file as input"),
    ]:
        assert main(["draw", str(CNN), *argv]) == 1, argv
        assert message in capsys.readouterr().err
    assert main(["draw", str(CNN), "-o", str(tmp_path / "x.html"), "--depth", "0"]) == 2
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "x.png").exists()


# --- in a real browser -------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
browser = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


def chromium(tmp_path: pathlib.Path, page: pathlib.Path, *args: str,
             budget_ms: int = 30000) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", f"--virtual-time-budget={budget_ms}",
            *args, page.resolve().as_uri()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def load_page(tmp_path: pathlib.Path, page: pathlib.Path) -> tuple[dict[str, str], str, str]:
    """The status element's attributes and text after the page ran, and Chromium's log."""
    for attempt in range(3):  # under heavy load the WebAssembly start-up can outlast the virtual time budget
        done = chromium(tmp_path, page, "--dump-dom", budget_ms=30000 * 2 ** attempt)
        match = re.search(r'<span id="gs-status"([^>]*)>([^<]*)<', done.stdout)
        assert match, done.stdout[-2000:]
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', match.group(1)))
        if attrs.get("data-state") != "loading":
            break
    return attrs, match.group(2), done.stderr


@pytest.mark.browser
@browser
def test_page_loads_and_draws_every_box(tmp_path, capsys):
    page = tmp_path / "inception.html"
    assert main(["draw", str(INCEPTION), "-o", str(page)]) == 0
    expected = build_drawing(graph(INCEPTION))
    attrs, text, log = load_page(tmp_path, page)
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert attrs["data-state"] == "ok", (text, console)
    assert int(attrs["data-boxes"]) == len(expected.boxes) == 37  # 18 blocks: weights and ops, and the input
    assert int(attrs["data-edges"]) == len(expected.edges)
    assert not console, console


@pytest.mark.browser
@browser
def test_page_of_every_node_and_of_a_diff(tmp_path, capsys):
    page = tmp_path / "all.html"
    assert main(["draw", str(CNN), "-o", str(page), "--depth", "all"]) == 0
    attrs, text, log = load_page(tmp_path, page)
    assert attrs["data-state"] == "ok" and int(attrs["data-boxes"]) == len(graph(CNN).node), text
    pruned = tmp_path / "pruned.pb"
    assert main(["prune", str(CNN), "--outputs", "probs", "-o", str(pruned)]) == 0
    diff_page = tmp_path / "diff.html"
    assert main(["diff", str(CNN), str(pruned), "--draw", str(diff_page), "--depth", "all"]) == 1
    attrs, text, log = load_page(tmp_path, diff_page)
    assert attrs["data-state"] == "ok" and int(attrs["data-boxes"]) == len(graph(CNN).node), text
    assert not [line for line in log.splitlines() if ":CONSOLE" in line]


@pytest.mark.browser
@browser
def test_page_screenshot_is_not_blank(tmp_path, capsys):
    cv2 = pytest.importorskip("cv2")
    page = tmp_path / "inception.html"
    assert main(["draw", str(INCEPTION), "-o", str(page)]) == 0
    shot = tmp_path / "shot.png"
    chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=1000,800", "--hide-scrollbars")
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (800, 1000)
    graph_area = image[200:, :]  # below the legend bar
    non_white = np.any(graph_area < 235, axis=2).mean()
    assert non_white > 0.02, f"only {non_white:.1%} of the graph area is drawn"
    conv = np.array([int(OP_KINDS["conv"][0][i:i + 2], 16) for i in (5, 3, 1)])  # BGR
    assert np.all(np.abs(graph_area.astype(int) - conv) <= 3, axis=2).sum() > 500, "no conv-coloured boxes"
