"""gs draw: what is drawn (collapse, focus, colours, sizes, limits), the DOT, SVG and HTML outputs,
and the page in a real headless Chromium (marked ``browser``; skipped when chromium is absent)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import pathlib
import re
import select
import shutil
import subprocess
import time
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
#
# Chromium is driven through the DevTools protocol over --remote-debugging-pipe (JSON messages ending
# in a NUL byte on file descriptors 3 and 4), in real time: the test waits until the page's status
# element leaves "loading", rather than guessing with --virtual-time-budget (which can run out
# before the WebAssembly compiled off the main thread is ready).

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
browser = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

_STATUS = ("(() => { const s = document.getElementById('gs-status');"
           " return s ? Object.assign({text: s.textContent}, s.dataset) : null; })()")


class Chromium:
    """One headless Chromium with a fresh profile, one page, its console messages and exceptions."""

    def __init__(self, profile: pathlib.Path, width: int = 1000, height: int = 800) -> None:
        to_chrome, self._send = os.pipe()
        self._recv, from_chrome = os.pipe()

        def child() -> None:  # Chromium reads commands on fd 3 and writes answers on fd 4
            os.dup2(to_chrome, 3)
            os.dup2(from_chrome, 4)

        self._log = open(profile.parent / f"{profile.name}.log", "w+b")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, preexec_fn=child, pass_fds=(3, 4))
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer = b""
        self._next_id = 0
        self.console: list[str] = []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t["targetId"] for t in targets if t["type"] == "page")
        self._session = self.call("Target.attachToTarget", targetId=page, flatten=True)["sessionId"]
        for domain in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.call(domain, session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def call(self, method: str, session: bool = False, timeout: float = 60, **params: object) -> dict:
        self._next_id += 1
        message: dict[str, object] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._send, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline - time.monotonic(), method)
            if reply.get("id") == self._next_id:
                assert "error" not in reply, (method, reply["error"])
                return reply["result"]
            self._event(reply)

    def _read(self, timeout: float, method: str) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._recv], [], [], max(timeout, 0))
            assert ready, f"Chromium did not answer {method} in time"
            chunk = os.read(self._recv, 1 << 20)
            assert chunk, f"Chromium exited: {self.log()[-2000:]}"
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _event(self, event: dict) -> None:
        params = event.get("params", {})
        if event.get("method") == "Runtime.consoleAPICalled":
            self.console.append(f"console.{params['type']}: " + " ".join(
                str(a.get("value", a.get("description"))) for a in params["args"]))
        elif event.get("method") == "Runtime.exceptionThrown":
            self.console.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif event.get("method") == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            self.console.append(f"log {params['entry']['level']}: {params['entry']['text']}")

    def load(self, page: pathlib.Path, timeout: float = 90) -> dict[str, str]:
        """Opens ``page`` and waits for its status element to leave "loading"; returns its data."""
        self.call("Page.navigate", session=True, url=page.resolve().as_uri())
        deadline = time.monotonic() + timeout
        while True:
            status = self.call("Runtime.evaluate", session=True, expression=_STATUS,
                               returnByValue=True)["result"].get("value")
            if status and status.get("state") != "loading":
                return status
            assert time.monotonic() < deadline, f"the page is still {status} after {timeout} s"
            time.sleep(0.2)

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", session=True, format="png")["data"])

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def close(self) -> None:
        with contextlib.suppress(AssertionError, OSError):
            self.call("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._send)
        os.close(self._recv)
        self._log.close()


@pytest.fixture
def chromium(tmp_path):  # noqa: ANN201
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    instance = Chromium(tmp_path / "profile")
    try:
        yield instance
    finally:
        instance.close()


@pytest.mark.browser
@browser
def test_page_loads_and_draws_every_box(tmp_path, capsys, chromium):
    page = tmp_path / "inception.html"
    assert main(["draw", str(INCEPTION), "-o", str(page)]) == 0
    expected = build_drawing(graph(INCEPTION))
    status = chromium.load(page)
    assert status["state"] == "ok", (status, chromium.console)
    assert int(status["boxes"]) == len(expected.boxes) == 37  # 18 blocks: weights and ops, and the input
    assert int(status["edges"]) == len(expected.edges)
    assert not chromium.console, chromium.console


@pytest.mark.browser
@browser
def test_page_of_every_node_and_of_a_diff(tmp_path, capsys, chromium):
    page = tmp_path / "all.html"
    assert main(["draw", str(CNN), "-o", str(page), "--depth", "all"]) == 0
    status = chromium.load(page)
    assert status["state"] == "ok" and int(status["boxes"]) == len(graph(CNN).node), status
    pruned = tmp_path / "pruned.pb"
    assert main(["prune", str(CNN), "--outputs", "probs", "-o", str(pruned)]) == 0
    diff_page = tmp_path / "diff.html"
    assert main(["diff", str(CNN), str(pruned), "--draw", str(diff_page), "--depth", "all"]) == 1
    status = chromium.load(diff_page)
    assert status["state"] == "ok" and int(status["boxes"]) == len(graph(CNN).node), status
    assert not chromium.console, chromium.console


@pytest.mark.browser
@browser
def test_page_reports_errors(tmp_path, capsys, chromium):
    """A page whose script fails says so in its status element (what the tests above rely on)."""
    page = tmp_path / "broken.html"
    text = to_html(build_drawing(graph(CNN))).replace("var DOT = ", "var DOT = 'digraph { a -> ' + ", 1)
    page.write_text(text.replace("</body>", "<script>console.error('boom'); nowhere();</script></body>"))
    status = chromium.load(page)
    assert status["state"] == "error" and status["text"].startswith("error: "), status
    # and the console messages the other tests require to be absent are seen
    assert "console.error: boom" in chromium.console
    assert any(line.startswith("exception: ") for line in chromium.console), chromium.console


@pytest.mark.browser
@browser
def test_page_screenshot_is_not_blank(tmp_path, capsys, chromium):
    cv2 = pytest.importorskip("cv2")
    page = tmp_path / "inception.html"
    assert main(["draw", str(INCEPTION), "-o", str(page)]) == 0
    assert chromium.load(page)["state"] == "ok"
    png = chromium.screenshot()
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[:2] == (800, 1000)
    graph_area = image[200:, :]  # below the legend bar
    non_white = np.any(graph_area < 235, axis=2).mean()
    assert non_white > 0.02, f"only {non_white:.1%} of the graph area is drawn"
    conv = np.array([int(OP_KINDS["conv"][0][i:i + 2], 16) for i in (5, 3, 1)])  # BGR
    assert np.all(np.abs(graph_area.astype(int) - conv) <= 3, axis=2).sum() > 500, "no conv-coloured boxes"
