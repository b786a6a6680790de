"""GraphEditor and the node/attr helpers on tiny GraphDefs made in code (exact expectations, no TensorFlow).

Real TensorFlow graphs edited and run are in test_surgery_tf.py.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest

from graphsurgeon._proto import attr_value_pb2, graph_pb2, types_pb2
from graphsurgeon.errors import GraphSurgeonError, InvalidGraphError, NodeNotFoundError
from graphsurgeon.formats.tensors import array_to_tensor, shape_from_proto, tensor_to_array
from graphsurgeon.graph.check import check_graph
from graphsurgeon.surgery import (
    GraphEditor,
    attr_value,
    const_node,
    dtype_attr,
    func_attr,
    list_attr,
    make_node,
    shape_attr,
    tensor_attr,
)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from builders import complete  # noqa: E402  (tests/builders.py)

DT = types_pb2.DataType
F = {"T": DT.DT_FLOAT}


def graph(*specs: tuple) -> graph_pb2.GraphDef:
    """(name, op, [inputs], {attrs}) -> GraphDef; attrs go through attr_value (``_class`` as loc targets)."""
    out = graph_pb2.GraphDef()
    out.versions.producer = 1234
    for spec in specs:
        name, op, inputs = spec[:3]
        attrs = dict(spec[3]) if len(spec) > 3 else {}
        coloc = attrs.pop("_class", None)
        node = make_node(name, op, inputs, {k: (dtype_attr(v) if k in ("T", "dtype") and not isinstance(v, list) else v)
                                            for k, v in attrs.items()})
        if coloc:
            node.attr["_class"].list.s.extend(f"loc:@{c}".encode() for c in coloc)
        out.node.append(complete(node))
    return out


def inputs_of(graph_def: graph_pb2.GraphDef) -> dict[str, list[str]]:
    return {n.name: list(n.input) for n in graph_def.node}


def coloc(graph_def: graph_pb2.GraphDef, name: str) -> list[str]:
    node = next(n for n in graph_def.node if n.name == name)
    return [e.decode() for e in node.attr["_class"].list.s] if "_class" in node.attr else []


def chain() -> graph_pb2.GraphDef:
    return graph(
        ("x", "Placeholder", [], {"dtype": DT.DT_FLOAT}),
        ("dep", "NoOp", []),
        ("id1", "Identity", ["x", "^dep"], F),
        ("id2", "Identity", ["id1"], F),
        ("check", "CheckNumerics", ["id2"], {"T": DT.DT_FLOAT, "message": "bad"}),
        ("relu", "Relu", ["check"], F),
        ("after", "NoOp", ["^id2"]),
        ("near", "Relu", ["relu"], {"T": DT.DT_FLOAT, "_class": ["id1", "relu"]}),
        ("out", "Identity", ["near", "^after"], F),
    )


def test_editor_copies_and_never_mutates_input():
    g = chain()
    before = g.SerializeToString()
    editor = GraphEditor(g)
    editor.remove(["id1", "id2"])
    editor.rename("relu", "act")
    assert g.SerializeToString() == before, "the caller's GraphDef changed"
    snapshot = editor.graph_def
    frozen = snapshot.SerializeToString()
    editor.rename("act", "act2")
    assert snapshot.SerializeToString() == frozen, "a returned GraphDef changed after a later edit"


def test_find_by_name_op_regex_namespace():
    g = graph(("a/x", "Placeholder", [], {"dtype": DT.DT_FLOAT}), ("a", "Identity", ["a/x"], F),
              ("ab/y", "Relu", ["a"], F), ("a/b/z", "Relu", ["ab/y"], F))
    e = GraphEditor(g)
    assert e.find(op="Relu") == ["ab/y", "a/b/z"]
    assert e.find(op={"Relu", "Identity"}, namespace="a") == ["a", "a/b/z"]
    assert e.find(namespace="a/") == ["a/x", "a", "a/b/z"], "namespace 'a' must not match 'ab/...'"
    assert e.find(regex=r".*/[yz]") == ["ab/y", "a/b/z"]
    assert e.find(regex="y") == [], "regex must match the whole name"
    assert e.find("a:0") == ["a"]
    assert e.find("nope") == []
    with pytest.raises(GraphSurgeonError, match="bad regex"):
        e.find(regex="(")


def test_consumers_producers_and_not_found():
    e = GraphEditor(chain())
    assert e.consumers("id2") == ["check", "after"]
    assert e.consumers("id2", kinds=["control"]) == ["after"]
    assert e.producers("id1") == ["x", "dep"]
    with pytest.raises(NodeNotFoundError, match=r"node 'relo' not found.*did you mean 'relu'"):
        e.consumers("relo")
    with pytest.raises(NodeNotFoundError, match="did you mean 'check'"):
        e.node("chek")


def test_remove_forwards_chain_controls_and_colocation():
    e = GraphEditor(chain())
    e.remove(["id1", "id2", "check"])
    got = inputs_of(e.graph_def)
    # relu reads x directly; id1's control input ^dep moves onto it.
    assert got["relu"] == ["x", "^dep"]
    # 'after' had ^id2: it now waits for what id2 waited for (x via id1, and dep).
    assert got["after"] == ["^x", "^dep"]
    # the colocation entry naming the removed id1 is dropped, the other kept.
    assert coloc(e.graph_def, "near") == ["loc:@relu"]
    assert "id1" not in e and "check" not in e
    check_graph(e.graph_def, frozen=False)


def test_remove_drops_control_input_implied_by_data_input():
    g = graph(("x", "Placeholder", [], {"dtype": DT.DT_FLOAT}), ("i", "Identity", ["x"], F),
              ("y", "Add", ["x", "i", "^i"], F))
    e = GraphEditor(g)
    e.remove("i")
    assert inputs_of(e.graph_def)["y"] == ["x", "x"]


def test_remove_without_forward_refuses_data_consumers_and_keeps_graph():
    e = GraphEditor(chain())
    before = e.graph_def.SerializeToString()
    with pytest.raises(GraphSurgeonError, match=r"cannot remove node 'relu' \(Relu\): node 'near' uses its output"):
        e.remove("relu", forward=False)
    assert e.graph_def.SerializeToString() == before
    e.remove(["after"], forward=False)  # only ^after in 'out': replaced by what 'after' waited on
    assert inputs_of(e.graph_def)["out"] == ["near", "^id2"]


def test_remove_forwards_only_pass_through_inputs():
    g = graph(("x", "Placeholder", [], {"dtype": DT.DT_FLOAT}), ("s", "Split", ["d", "x"], {"num_split": 2, **F}),
              ("d", "Const", [], {"dtype": DT.DT_INT32}), ("y", "Relu", ["s:1"], F),
              ("u", "Unique", ["x"], F), ("v", "Identity", ["u:1"], {"T": DT.DT_INT32}),
              ("n", "IdentityN", ["x", "d"], {"T": [np.float32, np.int32]}), ("w", "Relu", ["n:0"], F),
              ("z", "Cast", ["n:1"], {"SrcT": np.int32, "DstT": np.float32}))
    e = GraphEditor(g)
    with pytest.raises(GraphSurgeonError, match=r"cannot remove node 's' \(Split\): node 'y' uses its output 's:1'"):
        e.remove("s")
    with pytest.raises(GraphSurgeonError, match=r"node 'v' uses its output 'u:1'"):
        e.remove("u")
    e.remove("n")
    assert inputs_of(e.graph_def)["w"] == ["x"] and inputs_of(e.graph_def)["z"] == ["d"]
    e.remove(["y", "s"])
    with pytest.raises(NodeNotFoundError, match="did you mean 'v'"):
        e.remove(["u", "vv"])


def test_rename_follows_inputs_controls_and_colocation():
    e = GraphEditor(chain())
    e.rename({"id1": "first", "relu": "act"})
    got = inputs_of(e.graph_def)
    assert got["id2"] == ["first"]
    assert got["near"] == ["act"]
    assert coloc(e.graph_def, "near") == ["loc:@first", "loc:@act"]
    e.rename("id2", "second")
    assert inputs_of(e.graph_def)["after"] == ["^second"]
    with pytest.raises(GraphSurgeonError, match="already taken"):
        e.rename("second", "x")
    with pytest.raises(GraphSurgeonError, match="not a valid node name"):
        e.rename("second", "a:1")
    with pytest.raises(NodeNotFoundError, match="did you mean 'second'"):
        e.rename("secnd", "z")
    e.rename({"x": "tmp", "act": "x"})  # a swap-like chain in one call is fine
    assert e.node("x").op == "Relu"
    check_graph(e.graph_def, frozen=False)


def test_rename_namespace_and_drop_scope():
    g = graph(("import/x", "Placeholder", [], {"dtype": DT.DT_FLOAT}), ("import/y", "Relu", ["import/x"], F),
              ("z", "Relu", ["import/y:0", "^import/x"], F))
    e = GraphEditor(g)
    assert e.rename_namespace("import", "") == ["import/x", "import/y"]
    assert inputs_of(e.graph_def) == {"x": [], "y": ["x"], "z": ["y", "^x"]}
    with pytest.raises(NodeNotFoundError, match="namespace 'imprt' not found"):
        e.rename_namespace("imprt", "")
    with pytest.raises(GraphSurgeonError, match="already taken"):
        e.rename_namespace("y", "z")


def test_add_insert_after_rewire_replace_update():
    g = graph(("x", "Placeholder", [], {"dtype": DT.DT_FLOAT}), ("a", "Relu", ["x"], F), ("b", "Tanh", ["x"], F))
    e = GraphEditor(g)
    with pytest.raises(InvalidGraphError, match="node 'scale' input 'two' names node 'two', which is not in the"):
        e.insert_after("x:0", make_node("scale", "Mul", ["x", "two"], {"T": dtype_attr("float32")}))
    e = GraphEditor(g)
    e.add(const_node("two", np.float32(2)), after="x")
    e.insert_after("x", make_node("scale", "Mul", ["x", "two"], {"T": np.float32}))
    assert [n.name for n in e.graph_def.node] == ["x", "two", "scale", "a", "b"]
    assert inputs_of(e.graph_def)["a"] == ["scale"] and inputs_of(e.graph_def)["b"] == ["scale"]
    assert e.rewire("scale", "x", consumers=["b"]) == ["b"]
    assert inputs_of(e.graph_def)["b"] == ["x"]
    e.replace("a", make_node("act", "Relu6", ["scale"], {"T": np.float32}))
    assert "a" not in e and e.node("act").op == "Relu6"
    e.update("b", op="Sigmoid", inputs=["^two", "scale"], attrs={"_note": "x"})
    assert list(e.node("b").input) == ["scale", "^two"] and e.node("b").attr["_note"].s == b"x"
    with pytest.raises(GraphSurgeonError, match="a node of that name exists"):
        e.add(make_node("x", "NoOp"))
    with pytest.raises(GraphSurgeonError, match=r"do not read 'x'"):
        e.rewire("x", "two", consumers=["act"])
    check_graph(e.graph_def, frozen=False)


def test_failed_edit_raises_naming_node_and_keeps_graph():
    g = graph(("x", "Placeholder", [], {"dtype": DT.DT_FLOAT}), ("a", "Relu", ["x"], F), ("b", "Relu", ["a"], F))
    e = GraphEditor(g)
    before = e.graph_def.SerializeToString()
    with pytest.raises(InvalidGraphError, match=r"node 'b' input 'a:1' asks for output 1 of 'a' \(Relu\)"):
        e.rewire("a", "a:1")
    with pytest.raises(InvalidGraphError, match=r"after replacing 'a' by 'a2' \(Relu\): node 'a2' input 'nope'"):
        e.replace("a", make_node("a2", "Relu", ["nope"]))
    with pytest.raises(InvalidGraphError, match=r"after updating 'b': node 'b' input 'zzz'"):
        e.update("b", inputs=["zzz"])
    assert e.graph_def.SerializeToString() == before


def plugin_graph() -> graph_pb2.GraphDef:
    return graph(
        ("img", "Placeholder", [], {"dtype": DT.DT_FLOAT}),
        ("anchors", "Const", [], {"dtype": DT.DT_FLOAT}),
        ("gate", "NoOp", []),
        ("post/decode", "Mul", ["img", "anchors", "^gate"], F),
        ("post/scores", "Sigmoid", ["img"], F),
        ("post/nms", "TopKV2", ["post/scores", "post/k"], F),
        ("post/k", "Const", [], {"dtype": DT.DT_INT32}),
        ("post/boxes", "Identity", ["post/decode"], F),
        ("boxes", "Relu", ["post/boxes"], {"T": DT.DT_FLOAT, "_class": ["post/decode"]}),
        ("idx", "Identity", ["post/nms:1"], {"T": DT.DT_INT32}),
        ("scores", "Identity", ["post/nms", "^post/scores"], F),
    )


def test_collapse_namespace_into_plugin_node():
    e = GraphEditor(plugin_graph())
    node = e.collapse("post", "NMS_TRT",
                      attrs={"topK": 100, "iou": 0.5, "T": np.float32, "shape": shape_attr([None, 4])})
    assert node.name == "post" and node.op == "NMS_TRT"
    assert list(node.input) == ["img", "anchors", "^gate"]
    assert node.attr["topK"].i == 100 and node.attr["iou"].f == pytest.approx(0.5)
    assert node.attr["T"].type == DT.DT_FLOAT and shape_from_proto(node.attr["shape"].shape) == (-1, 4)
    got = inputs_of(e.graph_def)
    # outputs in (producer order, port): post/nms:0 -> 0, post/nms:1 -> 1, post/boxes:0 -> 2
    assert got["scores"] == ["post"], "the control input on a collapsed node that is also a data input is implied"
    assert got["idx"] == ["post:1"]
    assert got["boxes"] == ["post:2"]
    assert coloc(e.graph_def, "boxes") == ["loc:@post"]
    assert [n.name for n in e.graph_def.node] == ["img", "anchors", "gate", "post", "boxes", "idx", "scores"]
    check_graph(e.graph_def, frozen=False)


def test_collapse_with_explicit_order_and_errors():
    e = GraphEditor(plugin_graph())
    with pytest.raises(GraphSurgeonError, match=r"'post/nms:1' of the subgraph is used by 'idx'"):
        e.collapse("post", "P", outputs=["post/boxes", "post/nms"])
    with pytest.raises(GraphSurgeonError, match="also reads 'img:0'"):
        e.collapse("post", "P", inputs=["anchors"])
    with pytest.raises(GraphSurgeonError, match="is produced inside"):
        e.collapse("post", "P", inputs=["post/k", "img", "anchors"])
    with pytest.raises(NodeNotFoundError, match="namespace 'pots' not found.*did you mean 'post'"):
        e.collapse("pots", "P")
    e.collapse("post", "P", name="plugin", inputs=["anchors", "img"],
               outputs=["post/boxes", "post/nms:1", "post/nms:0", "post/scores"])
    got = inputs_of(e.graph_def)
    assert got["plugin"] == ["anchors", "img", "^gate"]
    assert got["boxes"] == ["plugin"] and got["idx"] == ["plugin:1"] and got["scores"] == ["plugin:2"]
    check_graph(e.graph_def, frozen=False)


def test_collapse_warns_about_sinks_it_drops(caplog):
    g = graph(("x", "Placeholder", [], {"dtype": DT.DT_FLOAT}), ("s/a", "Relu", ["x"], F),
              ("s/debug", "Identity", ["s/a"], F), ("y", "Relu", ["s/a"], F))
    with caplog.at_level("WARNING", logger="graphsurgeon.surgery"):
        GraphEditor(g).collapse("s", "P")
    assert "'s/debug' inside the subgraph had no consumers" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="graphsurgeon.surgery"):
        node = GraphEditor(g).collapse("s", "P", outputs=["s/a", "s/debug"])
    assert not caplog.text and node.name == "s"


def test_collapse_refuses_a_cycle():
    g = graph(("x", "Placeholder", [], {"dtype": DT.DT_FLOAT}), ("s/a", "Relu", ["x"], F),
              ("mid", "Relu", ["s/a"], F), ("s/b", "Add", ["mid", "s/a"], F), ("y", "Relu", ["s/b"], F))
    e = GraphEditor(g)
    with pytest.raises(InvalidGraphError, match="would make a cycle: node 'mid'"):
        e.collapse("s", "P")
    e.collapse(["s/a", "mid", "s/b"], "P", name="s")
    assert inputs_of(e.graph_def)["y"] == ["s"]


def test_attr_helpers():
    assert attr_value(True).b is True
    assert attr_value(3).i == 3 and attr_value(np.int64(4)).i == 4
    assert attr_value(0.25).f == 0.25
    assert attr_value("SAME").s == b"SAME" and attr_value(b"\x00").s == b"\x00"
    assert attr_value(np.float16).type == DT.DT_HALF and attr_value(np.dtype("int8")).type == DT.DT_INT8
    assert dtype_attr("DT_INT64").type == DT.DT_INT64 and dtype_attr("bool").type == DT.DT_BOOL
    assert list(attr_value([1, 2, 2]).list.i) == [1, 2, 2]
    assert list(attr_value([1, 2.5]).list.f) == [1.0, 2.5]
    assert list(attr_value(["a", b"b"]).list.s) == [b"a", b"b"]
    assert list(attr_value([np.float32, np.int32]).list.type) == [DT.DT_FLOAT, DT.DT_INT32]
    assert attr_value([]).HasField("list") and not attr_value([]).list.i
    assert [shape_from_proto(s) for s in list_attr([[1, 2], None], kind="shape").list.shape] == [(1, 2), None]
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert attr_value(arr).tensor == array_to_tensor(arr)
    assert tensor_to_array(tensor_attr([1, 2], "int64").tensor).dtype == np.int64
    f = func_attr("body", {"T": np.float32, "n": 2})
    assert f.func.name == "body" and f.func.attr["T"].type == DT.DT_FLOAT and f.func.attr["n"].i == 2
    copied = attr_value(attr_value_pb2.AttrValue(i=9))
    assert copied.i == 9
    with pytest.raises(GraphSurgeonError, match="use list_attr"):
        attr_value([1, "a"])
    with pytest.raises(GraphSurgeonError, match="cannot make an attr value"):
        attr_value(object())
    with pytest.raises(GraphSurgeonError, match="not a dtype"):
        dtype_attr("floaty")


def test_make_node_and_const_node():
    node = make_node("n", "AddN", ["^c", "a", "b:1"], {"N": 2, "T": np.float32}, device="/cpu:0")
    assert list(node.input) == ["a", "b:1", "^c"] and node.device == "/cpu:0"
    const = const_node("k", [[1, 2]], "int32", controls=["cond/switch_t"])
    assert list(const.input) == ["^cond/switch_t"] and const.attr["dtype"].type == DT.DT_INT32
    assert tensor_to_array(const.attr["value"].tensor).tolist() == [[1, 2]]
    with pytest.raises(GraphSurgeonError, match="needs a name and an op"):
        make_node("", "NoOp")


def test_editor_rejects_broken_input_and_tf_types():
    bad = graph(("a", "Relu", ["ghost"], F))
    with pytest.raises(InvalidGraphError, match="node 'a' input 'ghost'"):
        GraphEditor(bad)
    with pytest.raises(TypeError, match="graphsurgeon GraphDef"):
        GraphEditor(object())  # type: ignore[arg-type]


def test_apply_returns_edited_copy_and_update_removes_attrs():
    from graphsurgeon.surgery import apply

    g = chain()
    before = g.SerializeToString()
    out = apply(g, lambda e: (e.remove(e.find(op={"Identity", "CheckNumerics"}, regex="id.*|check")),
                              e.update("relu", op="Relu6", remove_attrs=["missing"], device="/cpu:0")))
    assert g.SerializeToString() == before
    relu = next(n for n in out.node if n.name == "relu")
    assert relu.op == "Relu6" and relu.device == "/cpu:0" and list(relu.input) == ["x", "^dep"]
    e = GraphEditor(out)
    e.update("check" if "check" in e else "near", remove_attrs=["_class"])
    assert "_class" not in e.node("near").attr
    with pytest.raises(GraphSurgeonError, match="rename needs the new name"):
        e.rename("near")


def test_remove_refuses_to_move_a_branch_control_edge_onto_a_switch():
    g = graph(("x", "Placeholder", [], {"dtype": DT.DT_FLOAT}), ("p", "Placeholder", [], {"dtype": DT.DT_BOOL}),
              ("sw", "Switch", ["x", "p"], F), ("pivot", "Identity", ["sw:1"], F),
              ("c", "Const", ["^pivot"], {"dtype": DT.DT_FLOAT, "value": np.float32(1)}),
              ("y", "Add", ["pivot", "c"], F))
    e = GraphEditor(g)
    with pytest.raises(GraphSurgeonError, match=r"node 'c' waits on it \('\^pivot'\) and it reads Switch output"):
        e.remove("pivot")
    e.remove(["pivot", "c", "y"])  # with everything that hangs on it, the branch can go


def test_edits_that_would_make_a_cycle_are_refused():
    g = graph(("x", "Placeholder", [], {"dtype": DT.DT_FLOAT}), ("a", "Relu", ["x"], F), ("b", "Relu", ["a"], F))
    e = GraphEditor(g)
    before = e.graph_def.SerializeToString()
    with pytest.raises(InvalidGraphError, match=r"after rewiring 'x' to 'b'.*cycle.*'a'"):
        e.rewire("x", "b")
    with pytest.raises(InvalidGraphError, match="after updating 'a'.*cycle"):
        e.update("a", inputs=["x", "^b"])
    with pytest.raises(InvalidGraphError, match="cycle"):
        e.replace("a", make_node("a", "Relu", ["a"], {"T": np.float32}))
    assert e.graph_def.SerializeToString() == before
