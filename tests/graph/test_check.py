"""check_graph: the structural check every written graph passes."""

from __future__ import annotations

import json
import pathlib
import sys

import pytest

from graphsurgeon._proto import graph_pb2, types_pb2
from graphsurgeon.errors import InvalidGraphError
from graphsurgeon.formats.model import load_graph
from graphsurgeon.graph.check import check_graph
from graphsurgeon.graph.op_registry import output_count

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from builders import complete  # noqa: E402  (tests/builders.py)

DT = types_pb2.DataType
FLOAT = DT.DT_FLOAT


def make(*nodes: tuple) -> graph_pb2.GraphDef:
    """(name, op, [inputs], {attr: type or bytes-list}) -> GraphDef."""
    graph_def = graph_pb2.GraphDef()
    for spec in nodes:
        name, op, inputs = spec[:3]
        node = graph_def.node.add(name=name, op=op, input=inputs)
        for key, value in (spec[3] if len(spec) > 3 else {}).items():
            if key == "_class":
                node.attr[key].list.s.extend(value)
            elif key in ("num_split", "N"):
                node.attr[key].i = value
            elif key == "shape":
                node.attr[key].shape.SetInParent()  # a scalar
            elif isinstance(value, list):
                node.attr[key].list.type.extend(value)
            else:
                node.attr[key].type = value
        complete(node)
    return graph_def


def good() -> graph_pb2.GraphDef:
    return make(
        ("x", "Placeholder", [], {"dtype": FLOAT}),
        ("w", "Const", [], {"dtype": FLOAT}),
        ("p", "Placeholder", [], {"dtype": DT.DT_BOOL}),
        ("sw", "Switch", ["x", "p"], {"T": FLOAT}),
        ("mm", "MatMul", ["sw:1", "w"], {"T": FLOAT}),
        ("merge", "Merge", ["sw", "mm"], {"T": FLOAT}),
        ("idx", "Identity", ["merge:1", "^w"], {"T": DT.DT_INT32}),
        ("split", "Split", ["w", "merge"], {"num_split": 3, "T": FLOAT}),
        ("out", "AddN", ["split:2", "split:0"], {"T": FLOAT, "_class": [b"loc:@mm"]}),
        ("init", "NoOp", ["^out"]),
    )


def test_good_graph_passes():
    check_graph(good())
    assert output_count(good().node[3]) == 2 and output_count(good().node[7]) == 3
    assert output_count(make(("n", "NoOp", [])).node[0]) == 0
    assert output_count(make(("c", "SomeCustomOp", [])).node[0]) is None


@pytest.mark.parametrize("change, message", [
    (lambda g: g.node.add(name="x", op="Const"), "node 'x' appears twice"),
    (lambda g: g.node.add(name="y", op="Relu", input=["mmm"]), "names node 'mmm'.*did you mean 'mm'"),
    (lambda g: g.node.add(name="y", op="Relu", input=["sw:2"]), r"output 2 of 'sw' \(Switch\), which has 2 outputs"),
    (lambda g: g.node.add(name="y", op="Relu", input=["w:1"]), "which has 1 output$"),
    (lambda g: g.node.add(name="y", op="Relu", input=["split:3"]), "has 3 outputs"),
    (lambda g: g.node.add(name="y", op="Relu", input=["init"]), r"\(NoOp\), which has no outputs"),
    (lambda g: g.node.add(name="y", op="Add", input=["^x", "w"]), "data input 'w' after a control input"),
    (lambda g: g.node.add(name="y", op="Add", input=["w", "^x", "^x"]), "control input '\\^x' twice"),
    (lambda g: g.node.add(name="y", op="Const", input=["x"]), "is a Const but has data input 'x'"),
    (lambda g: g.node.add(name="y", op="Placeholder", input=["x"]), "is a Placeholder but has data input"),
    (lambda g: _add(g, "y", "Relu", ["x"]) or g.node[-1].attr["_class"].list.s.append(b"loc:@gone"),
     "colocated with 'gone'"),
    (lambda g: g.node.add(name="", op="Relu"), "empty name"),
    (lambda g: setattr(_add(g, "e", "Enter", ["x"]) or g.node[-1].attr["frame_name"], "s", b""),
     r"\(Enter\) has no frame_name"),
    (lambda g: _add(g, "e", "Enter", ["x"]), r"'e' \(Enter\) is missing attr 'frame_name' \(string\), which has no "
     r"default; TensorFlow refuses it \(NodeDef missing attr 'frame_name'\)"),
    (lambda g: (_add(g, "n", "NextIteration", ["x"]), _add(g, "y", "Relu", ["n"])),
     "a NextIteration may only feed the Merge"),
    (lambda g: g.node.add(name="y", op=""), "has no op"),
])
def test_broken_graphs_name_the_node(change, message):
    graph_def = good()
    change(graph_def)
    with pytest.raises(InvalidGraphError, match=message):
        check_graph(graph_def, frozen=False, source="g.pb")


def _stateful() -> graph_pb2.GraphDef:
    return make(
        ("v", "VariableV2", [], {"dtype": FLOAT, "shape": ()}),
        ("read", "Identity", ["v"], {"T": FLOAT}),
        ("one", "Const", [], {"dtype": FLOAT}),
        ("init", "Assign", ["v", "one"], {"T": FLOAT}),
        ("p", "Placeholder", [], {"dtype": DT.DT_BOOL}),
        ("rs", "RefSwitch", ["v", "p"], {"T": DT.DT_FLOAT_REF}),
        ("upd", "AssignSub", ["rs:1", "one"], {"T": FLOAT}),
        ("out", "Mul", ["read", "one", "^upd"], {"T": FLOAT}),
    )


def test_frozen_graph_may_not_keep_state():
    graph_def = _stateful()
    check_graph(graph_def, frozen=False)
    with pytest.raises(InvalidGraphError, match=r"node 'v' is a variable \(VariableV2\) left"):
        check_graph(graph_def)
    check_graph(graph_def, allow_variables=["v"])  # kept on purpose: its Assign and RefSwitch may stay
    graph_def.node[0].op = "Const"  # converted, but the updates were not removed
    del graph_def.node[0].attr["shape"]
    complete(graph_def.node[0])
    with pytest.raises(InvalidGraphError, match=r"'init' \(Assign\) updates 'v'"):
        check_graph(graph_def)


def test_ref_ops_saver_and_resource_reads_fed_by_values():
    ref = make(("c", "Const", [], {"dtype": FLOAT}), ("p", "Const", [], {"dtype": DT.DT_BOOL}),
               ("rs", "RefSwitch", ["c", "p"], {"T": FLOAT}))
    with pytest.raises(InvalidGraphError, match=r"'rs' \(RefSwitch\) passes a ref"):
        check_graph(ref)
    ref_attr = make(("c", "Const", [], {"dtype": FLOAT}), ("i", "Identity", ["c"], {"T": DT.DT_FLOAT_REF}))
    with pytest.raises(InvalidGraphError, match="ref-typed attr T"):
        check_graph(ref_attr)
    saver = make(("f", "Const", [], {"dtype": DT.DT_STRING}),
                 ("save/SaveV2", "SaveV2", ["f", "f", "f", "f"], {"dtypes": [DT.DT_STRING]}))
    with pytest.raises(InvalidGraphError, match="save/restore op"):
        check_graph(saver)
    check_graph(saver, allow_saver=True)
    read = make(("c", "Const", [], {"dtype": FLOAT}), ("e", "Enter", ["c"], {"T": DT.DT_RESOURCE}),
                ("r", "ReadVariableOp", ["e"], {"dtype": FLOAT}))
    read.node[1].attr["frame_name"].s = b"loop"
    with pytest.raises(InvalidGraphError, match=r"'e' \(Enter\) expects a resource handle but is fed by Const 'c'"):
        check_graph(read)
    table = make(("t", "HashTableV2", [], {"key_dtype": DT.DT_STRING, "value_dtype": DT.DT_INT64}),
                 ("i", "Identity", ["t"], {"T": DT.DT_RESOURCE}))
    check_graph(table)  # a non-variable resource is fine


def test_tf_fixture_graphs(fixtures_dir):
    for spec_path in sorted((fixtures_dir / "freeze").glob("*/spec.json")):
        spec = json.loads(spec_path.read_text())
        loaded = load_graph(spec_path.parent / spec["graph"])
        check_graph(loaded.graph_def, frozen=False, source=spec_path.parent.name)
        with pytest.raises(InvalidGraphError, match="is a variable"):
            check_graph(loaded.graph_def, source=spec_path.parent.name)


def _add(graph_def: graph_pb2.GraphDef, name: str, op: str, inputs: list[str]) -> None:
    node = graph_def.node.add(name=name, op=op, input=inputs)
    if op != "NoOp":
        node.attr["T"].type = FLOAT


@pytest.mark.tf
def test_graphs_we_reject_tensorflow_rejects_too():
    import tensorflow as tf

    base = make(
        ("x", "Placeholder", [], {"dtype": FLOAT}),
        ("p", "Placeholder", [], {"dtype": DT.DT_BOOL}),
        ("sw", "Switch", ["x", "p"], {"T": FLOAT}),
        ("merge", "Merge", ["sw", "sw:1"], {"T": FLOAT, "N": 2}),
        ("init", "NoOp", ["^merge"]),
    )
    check_graph(base, frozen=False)
    with tf.Graph().as_default():
        tf.import_graph_def(tf.compat.v1.GraphDef.FromString(base.SerializeToString()), name="")
    cases = [
        lambda g: _add(g, "y", "Relu", ["mergee"]),
        lambda g: _add(g, "y", "Identity", ["sw:2"]),
        lambda g: _add(g, "y", "Identity", ["init"]),
        lambda g: _add(g, "x", "NoOp", []),
        lambda g: _add(g, "y", "Identity", ["^x", "p"]),
    ]
    for change in cases:
        graph_def = graph_pb2.GraphDef()
        graph_def.CopyFrom(base)
        change(graph_def)
        with pytest.raises(InvalidGraphError):
            check_graph(graph_def, frozen=False)
        with tf.Graph().as_default(), pytest.raises((ValueError, tf.errors.InvalidArgumentError)):
            tf.import_graph_def(tf.compat.v1.GraphDef.FromString(graph_def.SerializeToString()), name="")
