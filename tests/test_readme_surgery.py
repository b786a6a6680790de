"""The README's "Graph surgery" Python example runs as written, on a frozen TF-Slim MobileNet."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pathlib
import re

import graphsurgeon as gs
from graphsurgeon.graph.check import check_graph

ROOT = pathlib.Path(__file__).resolve().parent.parent
MOBILENET = ROOT / "tests" / "fixtures" / "surgery" / "mobilenet"


def _example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Graph surgery", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the Graph surgery section should have one Python example"
    return blocks[0]


def test_readme_surgery_example(tmp_path):
    spec = json.loads((MOBILENET / "spec.json").read_text())
    frozen = gs.freeze(MOBILENET / spec["graph"], MOBILENET / spec["checkpoint"], spec["outputs"], bind=spec["bind"])
    gs.save_graph(frozen.graph_def, tmp_path / "frozen.pb")
    cwd = os.getcwd()
    printed = io.StringIO()
    try:
        os.chdir(tmp_path)
        with contextlib.redirect_stdout(printed):
            exec(compile(_example(), "README.md", "exec"), {"__name__": "readme_example"})
    finally:
        os.chdir(cwd)
    graph = gs.load_graph(tmp_path / "plugin.pb").graph_def
    check_graph(graph, source="plugin.pb")
    nodes = {n.name: n for n in graph.node}
    plugin = nodes["MobilenetV1/Conv2d_1_depthwise"]
    assert plugin.op == "DepthwiseBlock_TRT"
    assert list(plugin.attr["kernel"].list.i) == [3, 3] and plugin.attr["stride"].i == 1
    assert list(plugin.input) == ["MobilenetV1/Conv2d_0/Relu6"]
    assert not any(n.startswith("MobilenetV1/Conv2d_1_depthwise/") for n in nodes)
    pointwise = nodes["MobilenetV1/Conv2d_1_pointwise/Conv2D"]
    assert pointwise.input[0] == "MobilenetV1/Conv2d_1_depthwise"
    assert "image" in nodes and "input" not in nodes
    assert nodes["MobilenetV1/Conv2d_0/Conv2D"].input[0] == "image"
    lines = printed.getvalue().splitlines()
    assert lines[0].startswith("['MobilenetV1/Conv2d_1_depthwise/depthwise', ")
    assert lines[1] == "['MobilenetV1/Conv2d_0/Relu6'] ['MobilenetV1/Conv2d_1_pointwise/Conv2D']"


def test_readme_error_message_is_real():
    spec = json.loads((MOBILENET / "spec.json").read_text())
    frozen = gs.freeze(MOBILENET / spec["graph"], MOBILENET / spec["checkpoint"], spec["outputs"], bind=spec["bind"])
    editor = gs.GraphEditor(gs.optimize(frozen.graph_def, ["output"]))
    readme = " ".join((ROOT / "README.md").read_text().split())
    try:
        editor.collapse("MobilenetV1/Conv2d_1_dephtwise", op="P")
    except gs.errors.NodeNotFoundError as err:
        message = str(err)
    else:
        raise AssertionError("a misspelt namespace must raise NodeNotFoundError")
    start = "namespace 'MobilenetV1/Conv2d_1_dephtwise' not found"
    end = "did you mean 'MobilenetV1/Conv2d_1_depthwise'"
    assert message.startswith(start) and end in message, message
    assert start in readme and end in readme
