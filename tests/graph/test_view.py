"""GraphView on tiny GraphDefs made in code (no TensorFlow)."""

from __future__ import annotations

import copy
import gc
import pathlib
import pickle
import sys

import networkx as nx
import pytest

from graphsurgeon._proto import graph_pb2
from graphsurgeon.errors import GraphSurgeonError, InvalidGraphError, NodeNotFoundError
from graphsurgeon.formats.model import load_graph
from graphsurgeon.graph.names import parse_input
from graphsurgeon.graph.view import COLOCATION, CONTROL, DATA, GraphView

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from builders import make_graph, while_loop  # noqa: E402  (tests/builders.py)


def diamond() -> graph_pb2.GraphDef:
    return make_graph(
        ("x", "Placeholder", []),
        ("init", "NoOp", []),
        ("split", "Split", ["dim", "x"]),
        ("dim", "Const", []),
        ("a", "Relu", ["split:1", "^init"]),
        ("b", "Relu", ["split"], {"_class": ["a"]}),
        ("out", "AddV2", ["a", "b"]),
        ("unused", "Identity", ["x"]),
    )


def test_edges_have_kinds_and_point_producer_to_consumer() -> None:
    view = GraphView(diamond())
    g = view.graph
    assert list(g.nodes) == view.names == ["x", "init", "split", "dim", "a", "b", "out", "unused"]
    kinds = {(u, v): k for u, v, k in g.edges(data="kind")}
    assert kinds == {("x", "split"): DATA, ("dim", "split"): DATA, ("split", "a"): DATA, ("init", "a"): CONTROL,
                     ("split", "b"): DATA, ("a", "b"): COLOCATION, ("a", "out"): DATA, ("b", "out"): DATA,
                     ("x", "unused"): DATA}, kinds


def test_bulk_digraph_equals_public_networkx_construction() -> None:
    graph_def = make_graph(
        ("a", "Const", []), ("b", "Const", []),
        ("c", "Add", ["a", "b:0", "^a"]),            # data + control from a: data wins
        ("d", "Identity", ["^b"], {"_class": ["c", "a", "gone"]}),
        ("e", "Identity", ["c"], {"_class": ["c"]}),  # colocation + data: data wins
        ("f", "Identity", ["e", "gone:1"]),
    )
    view = GraphView(graph_def, allow_dangling=True)
    bulk = view.graph
    expected = nx.DiGraph()
    expected.add_nodes_from(view.names)
    expected.add_edges_from([("c", "d"), ("a", "d"), ("c", "e")], kind=COLOCATION)
    expected.add_edges_from([("a", "c"), ("b", "d")], kind=CONTROL)
    expected.add_edges_from([("a", "c"), ("b", "c"), ("c", "e"), ("e", "f")], kind=DATA)
    assert nx.utils.graphs_equal(bulk, expected), (list(bulk.edges(data=True)), list(expected.edges(data=True)))
    assert list(bulk.nodes) == view.names
    assert view.dangling == [("f", "gone:1")] and view.dangling_colocation == [("d", "gone")]
    assert view.graph is bulk, "built once"
    copy = bulk.copy()
    copy.edges["a", "c"]["kind"] = "changed"
    assert bulk.edges["a", "c"]["kind"] == DATA
    with pytest.raises(TypeError):
        bulk.edges["a", "c"]["kind"] = "changed"


def reference_digraph(graph_def: graph_pb2.GraphDef) -> nx.DiGraph:
    """The view's DiGraph made slowly with networkx's public API, from each input's own text."""
    names = [n.name for n in graph_def.node]
    known = set(names)
    edges: dict[str, list[tuple[str, str]]] = {COLOCATION: [], CONTROL: [], DATA: []}
    for node in graph_def.node:
        for text in node.input:
            ref = parse_input(text)
            if ref.node in known:
                edges[CONTROL if ref.is_control else DATA].append((ref.node, node.name))
        if "_class" in node.attr:
            for entry in node.attr["_class"].list.s:
                target = entry.decode()[len("loc:@"):]
                if entry.startswith(b"loc:@") and target in known:
                    edges[COLOCATION].append((target, node.name))
    expected = nx.DiGraph()
    expected.add_nodes_from(names)
    for kind in (COLOCATION, CONTROL, DATA):  # later kinds overwrite: data > control > colocation
        expected.add_edges_from(edges[kind], kind=kind)
    return expected


def multi_output_graph() -> graph_pb2.GraphDef:
    return make_graph(
        ("x", "Placeholder", []), ("init", "NoOp", []),
        ("split", "Split", ["dim", "x"]), ("dim", "Const", []),        # input before its producer
        ("a", "AddV2", ["split:1", "split:2", "^init", "^x"]),          # two outputs of one node: one edge
        ("b", "AddV2", ["split", "split:0", "^init"], {"_class": ["a", "gone"]}),
        ("c", "AddN", ["a", "b", "a", "^split"]),                       # repeated input; control + data
        ("d", "Identity", ["^c", "^c"]),                                # control only, repeated
        ("e", "Identity", ["gone:3", "c"]),                             # dangling input: no edge
        ("lone", "NoOp", []),
    )


def test_bulk_digraph_equals_reference_with_control_and_multi_output_edges() -> None:
    graph_def = multi_output_graph()
    view = GraphView(graph_def, allow_dangling=True)
    bulk, expected = view.graph, reference_digraph(graph_def)
    assert type(bulk) is nx.DiGraph
    assert nx.utils.graphs_equal(bulk, expected), (sorted(bulk.edges(data=True)), sorted(expected.edges(data=True)))
    assert sorted(bulk.edges(data="kind")) == sorted(expected.edges(data="kind"))
    assert bulk.edges["split", "a"]["kind"] == DATA and bulk.edges["init", "a"]["kind"] == CONTROL
    assert bulk.edges["split", "c"]["kind"] == CONTROL and bulk.edges["a", "b"]["kind"] == COLOCATION
    assert list(bulk.nodes) == view.names
    for n in view.names:  # same neighbours in both directions (networkx keeps succ and pred apart)
        assert set(bulk.succ[n]) == set(expected.succ[n]) and set(bulk.pred[n]) == set(expected.pred[n]), n
        assert bulk.in_degree(n) == expected.in_degree(n) and bulk.out_degree(n) == expected.out_degree(n), n
    # networkx algorithms give the same answers on both
    assert nx.ancestors(bulk, "d") == nx.ancestors(expected, "d") == {"x", "init", "split", "dim", "a", "b", "c"}
    assert nx.descendants(bulk, "split") == nx.descendants(expected, "split")
    assert nx.is_directed_acyclic_graph(bulk)
    pos = {n: i for i, n in enumerate(nx.topological_sort(bulk))}  # ties may fall either way
    assert len(pos) == len(view.names) and all(pos[u] < pos[v] for u, v in expected.edges)
    assert nx.shortest_path_length(bulk, "x", "e") == nx.shortest_path_length(expected, "x", "e") == 3
    assert dict(nx.shortest_path_length(bulk, "init")) == dict(nx.shortest_path_length(expected, "init"))
    assert nx.utils.graphs_equal(bulk.reverse(), expected.reverse())
    assert nx.utils.graphs_equal(bulk.subgraph(["a", "b", "c"]).copy(), expected.subgraph(["a", "b", "c"]).copy())


@pytest.mark.parametrize("name", ["lstm", "control", "mobilenet_v2"])
def test_bulk_digraph_of_real_graphs_equals_reference(name: str) -> None:
    graph_def = load_graph(PRUNE_FIXTURES / f"{name}.pb").graph_def
    bulk = GraphView(graph_def).graph
    assert nx.utils.graphs_equal(bulk, reference_digraph(graph_def))
    assert any(kind == CONTROL for _, _, kind in bulk.edges(data="kind")) or name == "mobilenet_v2"


def test_view_graph_node_attrs_are_per_node_and_can_be_set() -> None:
    view = GraphView(multi_output_graph(), allow_dangling=True)
    g = view.graph
    assert all(g.nodes[n] == {} for n in g) and dict(g.nodes(data=True)) == {n: {} for n in view.names}
    g.nodes["a"]["color"] = "red"                       # through G.nodes[n]
    g.add_node("b", weight=2)                           # through add_node on an existing node
    nx.set_node_attributes(g, {"c": 3}, "rank")
    assert g.nodes["a"] == {"color": "red"} and g.nodes["b"] == {"weight": 2} and g.nodes["c"] == {"rank": 3}
    assert g.nodes["x"] == {} and g.nodes["split"] == {}, "setting one node's attrs leaves the others alone"
    for _, attrs in g.nodes(data=True):                # through the data view: every node has its own dict
        attrs.setdefault("seen", 0)
        attrs["seen"] += 1
    assert all(g.nodes[n]["seen"] == 1 for n in g)
    assert nx.get_node_attributes(g, "color") == {"a": "red"}


def test_view_graph_can_be_changed_copied_and_pickled() -> None:
    graph_def = multi_output_graph()
    view = GraphView(graph_def, allow_dangling=True)
    g, expected = view.graph, reference_digraph(graph_def)
    g.nodes["x"]["dtype"] = "float32"
    expected.nodes["x"]["dtype"] = "float32"
    for other in (g.copy(), copy.deepcopy(g), pickle.loads(pickle.dumps(g)), nx.DiGraph(g)):
        assert nx.utils.graphs_equal(other, expected)
        other.nodes["dim"]["x"] = 1
        other.add_edge("lone", "x", kind="manual")
        assert g.nodes["dim"] == {} and not g.has_edge("lone", "x"), "copies are independent"
    # the graph itself changes like any DiGraph
    g.add_edge("lone", "d", kind="manual")
    g.add_node("new", color="blue")
    g.remove_node("split")
    expected.add_edge("lone", "d", kind="manual")
    expected.add_node("new", color="blue")
    expected.remove_node("split")
    assert nx.utils.graphs_equal(g, expected)
    assert g.nodes["new"] == {"color": "blue"} and "split" not in g and not g.has_edge("x", "split")
    with pytest.raises(TypeError):  # shared edge attrs stay read-only (documented; copy() to change them)
        g.edges["a", "c"]["kind"] = "changed"


def test_view_graph_build_leaves_the_collector_as_it_was() -> None:
    graph_def = multi_output_graph()
    gc.disable()
    try:
        assert GraphView(graph_def, allow_dangling=True).graph.number_of_nodes() == 10
        assert not gc.isenabled(), "a disabled collector stays disabled"
    finally:
        gc.enable()
    view = GraphView(graph_def, allow_dangling=True)
    young = {id(o) for o in gc.get_objects(generation=0)}
    assert id(view._names) not in young and id(view.graph._pred) not in young, "moved to the oldest generation"
    assert gc.isenabled() and gc.get_freeze_count() == 0, "nothing is left frozen"
    gc.freeze()  # a program's own frozen objects stay frozen
    try:
        frozen = gc.get_freeze_count()
        assert GraphView(graph_def, allow_dangling=True).graph.number_of_nodes() == 10
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
    with pytest.raises(InvalidGraphError):
        GraphView(make_graph(("a", "Const", []), ("a", "Const", [])))
    assert gc.isenabled() and gc.get_freeze_count() == 0, "restored after an error too"


def test_producers_and_consumers_of_nodes_and_tensors() -> None:
    view = GraphView(diamond())
    assert view.producers("a") == ["split", "init"]
    assert view.producers("a", kinds=DATA) == ["split"]
    assert view.producers("b", kinds=(DATA, COLOCATION)) == ["split", "a"]
    assert view.consumers("split") == ["a", "b"]
    assert view.consumers("split:1") == ["a"]
    assert view.consumers("split:0") == ["b"]
    assert view.consumers("init") == ["a"]
    assert view.consumers("init", kinds=DATA) == []
    assert view.consumers("a", kinds=(DATA, CONTROL, COLOCATION)) == ["b", "out"]
    assert view.consumers("a") == ["out"]
    assert view.colocated_with("b") == ["a"]
    assert view.inputs("a") == (parse_input("split:1"), parse_input("^init"))
    assert view.node("split:1").op == "Split"
    assert view.index("out") == 6
    assert "split:1" in view and "nope" not in view


def test_ancestors_include_start_and_follow_kinds() -> None:
    view = GraphView(diamond())
    assert view.ancestors(["out"]) == {"out", "a", "b", "split", "x", "dim", "init"}
    assert view.ancestors(["a:0"], kinds=DATA) == {"a", "split", "x", "dim"}
    assert view.ancestors(["b"]) == {"b", "split", "x", "dim"}
    assert view.ancestors(["b"], kinds=(DATA, CONTROL, COLOCATION)) == {"b", "split", "x", "dim", "a", "init"}


def test_why_gives_a_shortest_path_and_refuses_unkept_nodes() -> None:
    view = GraphView(diamond())
    # Both x-split-a-out and x-split-b-out are shortest; ties go to the earlier input.
    assert view.why("x", ["out"]) == ["x", "split", "a", "out"]
    assert view.why("init", ["out:0"]) == ["init", "a", "out"]
    assert view.why("out", ["out"]) == ["out"]
    with pytest.raises(GraphSurgeonError, match="'unused' is not kept for outputs 'out'"):
        view.why("unused", ["out"])
    with pytest.raises(NodeNotFoundError, match="did you mean 'unused'"):
        view.why("unsed", ["out"])
    with pytest.raises(NodeNotFoundError, match="output 'outt' not found.*gs inspect"):
        view.why("x", ["outt"])


def test_shortest_path_is_shortest() -> None:
    graph_def = make_graph(("s", "Const", []), ("l1", "Neg", ["s"]), ("l2", "Neg", ["l1"]), ("l3", "Neg", ["l2"]),
                           ("out", "Add", ["l3", "s"]))
    assert GraphView(graph_def).why("s", ["out"]) == ["s", "out"]


def test_duplicate_names_are_an_error() -> None:
    graph_def = make_graph(("a", "Const", []), ("b", "Neg", ["a"]), ("a", "Const", []))
    with pytest.raises(InvalidGraphError, match="duplicate node names: 'a'"):
        GraphView(graph_def)


def test_dangling_input_is_an_error_unless_allowed() -> None:
    graph_def = make_graph(("conv/weights", "Const", []), ("conv", "Conv2D", ["x", "conv/weight:0"]),
                           ("x", "Placeholder", []))
    with pytest.raises(InvalidGraphError, match=r"node 'conv' has input 'conv/weight:0', .* no node 'conv/weight' "
                                                r"\(did you mean 'conv/weights'\?\); restore"):
        GraphView(graph_def)
    view = GraphView(graph_def, allow_dangling=True)
    assert view.dangling == [("conv", "conv/weight:0")]
    assert view.producers("conv") == ["x"]
    assert view.ancestors(["conv"]) == {"conv", "x"}


def test_topological_order_ignores_while_loop_back_edges() -> None:
    view = GraphView(while_loop())
    assert view.back_edges() == [("loop/NextIteration", "loop/Merge")]
    order = view.topological_order()
    assert sorted(order) == sorted(view.names)
    pos = {n: i for i, n in enumerate(order)}
    for u, v in view.graph.edges:
        if (u, v) != ("loop/NextIteration", "loop/Merge"):
            assert pos[u] < pos[v], f"{u} after {v} in {order}"
    # The graph is already in topological order apart from the back edge; ties keep graph order.
    assert order == view.names
    assert not nx.is_directed_acyclic_graph(view.graph)


def test_topological_order_sorts_and_reports_real_cycles() -> None:
    view = GraphView(make_graph(("b", "Neg", ["a"]), ("a", "Const", []), ("c", "Neg", ["b"])))
    assert view.topological_order() == ["a", "b", "c"]
    cyclic = GraphView(make_graph(("a", "Neg", ["c"]), ("b", "Neg", ["a"]), ("c", "Neg", ["b"])))
    with pytest.raises(InvalidGraphError, match="cycle that is not a while loop"):
        cyclic.topological_order()


def test_unknown_names_list_close_matches() -> None:
    view = GraphView(diamond())
    with pytest.raises(NodeNotFoundError, match="node 'splt:1' not found.*did you mean 'split'"):
        view.node("splt:1")
    with pytest.raises(ValueError, match="unknown edge kind"):
        view.producers("a", kinds=("data", "ctrl"))


PRUNE_FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "prune"


@pytest.mark.parametrize("name", ["lstm", "mobilenet_v2", "control"])
def test_topological_order_of_real_graphs(name: str) -> None:
    graph_def = load_graph(PRUNE_FIXTURES / f"{name}.pb").graph_def
    view = GraphView(graph_def)
    order = view.topological_order()
    assert sorted(order) == sorted(view.names)
    pos = {n: i for i, n in enumerate(order)}
    back = set(view.back_edges())
    if name == "lstm":
        assert back and all(graph_def.node[view.index(u)].op == "NextIteration" for u, _ in back)
        assert all(graph_def.node[view.index(v)].op == "Merge" for _, v in back)
        assert not nx.is_directed_acyclic_graph(view.graph)
    late = [(u, v) for u, v, kind in view.graph.edges(data="kind")
            if kind != COLOCATION and (u, v) not in back and pos[u] > pos[v]]
    assert not late, late[:5]


def test_why_on_a_real_graph_follows_edges() -> None:
    view = GraphView(load_graph(PRUNE_FIXTURES / "cnn_bn.pb").graph_def)
    path = view.why("conv/kernel", ["probs"])
    assert path[0] == "conv/kernel" and path[-1] == "probs"
    assert all(view.graph.has_edge(u, v) for u, v in zip(path, path[1:])), path
    assert len(path) - 1 == nx.shortest_path_length(view.graph, "conv/kernel", "probs")
    with pytest.raises(GraphSurgeonError, match="'train' is not kept for outputs 'probs'"):
        view.why("train", ["probs"])
