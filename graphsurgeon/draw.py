"""Pictures of graphs: namespaces collapsed to boxes, coloured by op kind, as HTML, SVG or DOT.

``build_drawing`` turns a GraphDef into a ``Drawing`` (boxes and edges): each namespace deeper
than ``depth`` becomes one box with its node count, its most common ops and its constants' bytes;
every other node is a box of its own. Focus options choose what is drawn: the nodes the
``outputs`` need (what prune keeps), the neighbourhood ``around`` a node within ``radius``
edges, and the chain by which the outputs need a node (``why``, highlighted). A diff colours the
boxes by what changed (``states``).

Then ``to_dot`` writes it in Graphviz's language, ``to_html`` makes a self-contained page that
lays it out in the browser (Graphviz compiled to WebAssembly, vendored in
``graphsurgeon/_vendor/viz-js``; no server, no network), and ``to_svg`` runs Graphviz's ``dot``
program when it is installed.

Typical use::

    drawing = build_drawing(graph_def, depth=2)
    write_drawing(drawing, "inception.html")
"""

from __future__ import annotations

import dataclasses
import heapq
import html
import importlib.resources
import json
import math
import os
import shutil
import subprocess
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence

from graphsurgeon._proto import graph_pb2, node_def_pb2
from graphsurgeon.errors import GraphSurgeonError, MissingDependencyError, UnsupportedError
from graphsurgeon.formats.protofile import atomic_writer, format_bytes
from graphsurgeon.formats.tensors import NUMPY_DTYPES
from graphsurgeon.graph.view import GraphView
from graphsurgeon.summary import dtype_str  # numpy names (float32), as gs inspect prints them

#: The most boxes (and edges) a page is asked to lay out. Graphviz's ``dot`` runs in the page's main
#: thread and its time grows faster than linearly: measured with the vendored Viz.js on a shared
#: 2-core machine (benchmarks/bench_draw.py --layout, in benchmarks/RESULTS.md), 1,500 boxes with
#: 2,200 edges take about 1.2 s, 2,000 boxes 2.6 s, 3,000 boxes 6 s and 4,000 boxes 11 s, and a
#: page that stalls for more than a few seconds looks hung (a slower laptop takes longer still).
#: Above the limit ``build_drawing`` collapses namespaces further, and refuses when even the
#: top-level namespaces are too many (naming --outputs/--around).
MAX_BOXES = 1500
MAX_EDGES = 3000

#: ``depth="auto"`` draws the deepest namespace level with at most this many boxes, so a picture is
#: readable at a glance (Inception v3: its 20 blocks at depth 2).
AUTO_BOXES = 60
#: ... unless that level has fewer boxes than this (a graph under one or two top-level scopes).
MIN_AUTO_BOXES = 8

#: Op kind -> (fill colour, ops). The first kind that lists an op wins; everything else is "other".
OP_KINDS: dict[str, tuple[str, frozenset[str]]] = {
    "placeholder": ("#a6d96a", frozenset({"Placeholder", "PlaceholderV2", "PlaceholderWithDefault"})),
    "constant": ("#d9d9d9", frozenset({"Const", "HostConst"})),
    "variable": ("#c2a5cf", frozenset({"VariableV2", "Variable", "VarHandleOp", "ReadVariableOp",
                                       "AssignVariableOp", "Assign", "VarIsInitializedOp"})),
    "conv": ("#fdae61", frozenset({"Conv2D", "Conv3D", "DepthwiseConv2dNative", "Conv2DBackpropInput",
                                   "Conv3DBackpropInputV2", "FusedConv2D", "_FusedConv2D", "Conv"})),
    "matmul": ("#f46d43", frozenset({"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum",
                                     "_FusedMatMul", "SparseMatMul"})),
    "control flow": ("#ffffbf", frozenset({"Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond",
                                           "RefSwitch", "RefMerge", "RefEnter", "RefExit", "RefNextIteration",
                                           "While", "StatelessWhile", "If", "StatelessIf", "Case",
                                           "StatelessCase", "ControlTrigger"})),
}
OTHER_COLOUR = "#abd9e9"
NAMESPACE_BORDER = "#4d4d4d"

#: Diff state -> fill colour (``states`` in build_drawing).
DIFF_COLOURS = {"added": "#a6dba0", "removed": "#f4a582", "changed": "#fee08b", "same": "#f0f0f0"}
#: Focus state -> border colour: the nodes asked for, and the chain of --why.
HIGHLIGHT_COLOURS = {"output": "#1a9850", "focus": "#2166ac", "why": "#d7191c"}
_STATE_ORDER = ("removed", "added", "changed", "same")


def op_kind(op: str) -> str:
    """``"Conv2D"`` -> ``"conv"``; ops not in ``OP_KINDS`` are ``"other"``."""
    for kind, (_, ops) in OP_KINDS.items():
        if op in ops:
            return kind
    return "other"


def kind_colour(kind: str) -> str:
    return OP_KINDS[kind][0] if kind in OP_KINDS else OTHER_COLOUR


@dataclasses.dataclass
class Box:
    """One box of a drawing: a node, or a collapsed namespace (``count`` nodes)."""

    id: str
    name: str
    namespace: bool
    count: int
    ops: Counter[str]
    kind: str
    const_bytes: int = 0
    detail: str = ""
    highlight: str = ""          # "", or a HIGHLIGHT_COLOURS key
    state: str = ""              # "", or a DIFF_COLOURS key (a namespace: the strongest of its nodes)
    states: Counter[str] = dataclasses.field(default_factory=Counter)


@dataclasses.dataclass
class Edge:
    src: str
    dst: str
    count: int = 1
    control: bool = False        # only control edges between the two boxes
    highlight: bool = False      # on the --why chain


@dataclasses.dataclass
class Drawing:
    """What ``build_drawing`` chose to draw. ``notes`` say what was left out or collapsed, and why."""

    boxes: list[Box]
    edges: list[Edge]
    title: str
    depth: int | str | None      # namespace level collapsed; "auto": opened by size; None: nothing collapsed
    nodes_drawn: int             # graph nodes inside the boxes
    graph_nodes: int             # nodes in the whole graph
    notes: list[str]
    diff: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"title": self.title, "depth": self.depth, "boxes": len(self.boxes), "edges": len(self.edges),
                "nodes_drawn": self.nodes_drawn, "graph_nodes": self.graph_nodes, "notes": list(self.notes)}


# --- choosing what to draw -----------------------------------------------------------------------


def _const_detail(node: node_def_pb2.NodeDef, with_text: bool = True) -> tuple[str, int]:
    """``"float32 [3,3,1,8] 288 B"`` and the byte count of a Const's value, without decoding it."""
    if "value" not in node.attr:
        return "", 0
    tensor = node.attr["value"].tensor
    content = tensor.tensor_content
    if content and not with_text:
        return "", len(content)
    dims = [d.size for d in tensor.tensor_shape.dim]
    elements = math.prod(dims) if not tensor.tensor_shape.unknown_rank else 0
    np_dtype = NUMPY_DTYPES.get(tensor.dtype)
    if content:
        size = len(content)
    elif np_dtype is not None and np_dtype.kind != "O":
        size = elements * np_dtype.itemsize
    else:
        size = sum(len(s) for s in tensor.string_val)
    if not with_text:
        return "", size
    shape = "[" + ",".join(str(d) for d in dims) + "]"
    return f"{dtype_str(tensor.dtype)} {shape} {format_bytes(size)}", size


def _selected(view: GraphView, names: Sequence[str], outputs: Sequence[str], around: str | None,
              radius: int, why: str | None) -> tuple[list[int], dict[str, str], list[str], set[tuple[str, str]]]:
    """Positions of the nodes to draw, highlights by name, notes, and the --why chain's edges."""
    keep = list(range(len(names)))
    highlight: dict[str, str] = {}
    notes: list[str] = []
    why_edges: set[tuple[str, str]] = set()
    if outputs:
        wanted = view.ancestors(outputs)
        keep = [i for i in keep if names[i] in wanted]
        for name in outputs:
            highlight[view.resolve(name, "output")] = "output"
        notes.append(f"the {len(keep)} of {len(names)} nodes that the outputs need (what prune keeps)")
    if around is not None:
        center = view.resolve(around)
        if radius < 0:
            raise GraphSurgeonError(f"--radius must be 0 or more, not {radius}")
        allowed = {names[i] for i in keep}
        if center not in allowed:
            raise GraphSurgeonError(f"node '{center}' is not among the nodes drawn (the outputs do not need it)")
        seen = {center: 0}
        queue = deque([center])
        while queue:
            current = queue.popleft()
            if seen[current] == radius:
                continue
            for other in (*view.producers(current), *view.consumers(current)):
                if other in allowed and other not in seen:
                    seen[other] = seen[current] + 1
                    queue.append(other)
        keep = [i for i in keep if names[i] in seen]
        highlight[center] = "focus"
        notes.append(f"the {len(keep)} nodes within {radius} edge{'s' if radius != 1 else ''} of '{center}'")
    if why is not None:
        if not outputs:
            raise GraphSurgeonError("--why NODE needs --outputs: gs draw GRAPH --outputs probs --why conv1/weights")
        chain = view.why(why, outputs)
        for name in chain:
            highlight[name] = "why"
        why_edges = set(zip(chain, chain[1:]))
        notes.append("in red, why the outputs keep '" + chain[0] + "': " + " -> ".join(chain))
    return keep, highlight, notes, why_edges


def _keys(names: Sequence[str], depth: int | None) -> list[str]:
    """Each name's box at ``depth``: its namespace ``depth`` levels deep, or itself when not that deep.

    A node named like a namespace (``a/b`` beside ``a/b/c``) lands in that namespace's box.
    """
    if depth is None:
        return list(names)
    out: list[str] = []
    append = out.append
    for name in names:
        parts = name.split("/", depth)
        append(name[:len(name) - len(parts[-1]) - 1] if len(parts) > depth else name)
    return out


def auto_cut(names: Sequence[str], ops: Sequence[str], budget: int = AUTO_BOXES,
             max_boxes: int = MAX_BOXES) -> list[str] | None:
    """Each name's box for ``depth="auto"``, or ``None`` when every node fits in ``budget`` boxes.

    Starts from the top-level namespaces and opens the box holding the most computation (nodes
    other than constants, variables and Identity) into its sub-namespaces, while that box holds
    more than a fifth of the graph's computation and the total stays within ``budget`` (once more
    when the picture would otherwise have fewer than ``MIN_AUTO_BOXES`` boxes and the opened one
    still fits the page). So the namespaces that hold most of the work are shown in detail, and
    weights stay one box each: TF-Slim's InceptionV3 keeps its weights under
    ``InceptionV3/Mixed_5b`` but its ops under ``InceptionV3/InceptionV3/Mixed_5b``, so one
    uniform depth would draw every op as one box.
    """
    if len(names) <= budget:
        return None
    work = [0 if _is_plumbing(op) else 1 for op in ops]
    threshold = max(sum(work), 1) / 5
    keys = _keys(names, 1)
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    level = dict.fromkeys(groups, 1)

    def entry(key: str) -> tuple[int, int, str]:
        members = groups[key]
        return (-sum(work[i] for i in members), -len(members), key)

    heap = [entry(key) for key, members in groups.items() if len(members) > 1]
    heapq.heapify(heap)
    while heap:
        weight, _, key = heapq.heappop(heap)
        members = groups[key]
        if -weight <= threshold and len(groups) >= MIN_AUTO_BOXES:
            break
        depth = level[key] + 1
        children: dict[str, list[int]] = {}
        for i, child in zip(members, _keys([names[i] for i in members], depth)):
            children.setdefault(child, []).append(i)
        if len(children) <= 1:
            only = next(iter(children))
            if only != key:  # one sub-namespace only: look one level further down
                del groups[key], level[key]
                groups[only], level[only] = members, depth
                heapq.heappush(heap, entry(only))
            continue
        total = len(groups) - 1 + len(children)
        if total > budget and not (len(groups) < MIN_AUTO_BOXES and total <= max_boxes // 2):
            break
        del groups[key], level[key]
        for child, child_members in children.items():
            groups[child], level[child] = child_members, depth
            if len(child_members) > 1:
                heapq.heappush(heap, entry(child))
    out = [""] * len(names)
    for key, members in groups.items():
        for i in members:
            out[i] = key
    return out


def choose_depth(names: Sequence[str], depth: int | str | None, max_boxes: int = MAX_BOXES,
                 auto_boxes: int = AUTO_BOXES,
                 ops: Sequence[str] | None = None) -> tuple[int | str | None, list[str], list[str]]:
    """The namespace level to collapse at, each name's box, and a note when the level is not the one asked.

    ``depth`` is a level (1 = top-level namespaces), ``None``/``"all"`` for every node, or
    ``"auto"`` (see ``auto_cut``; the level returned is then ``"auto"``, or ``None`` when nothing
    is collapsed). A level that would draw more than ``max_boxes`` is collapsed further;
    ``UnsupportedError`` when even level 1 is too many.
    """
    notes: list[str] = []
    deepest = max((n.count("/") + 1 for n in names), default=1)
    counts: dict[int | None, int] = {}

    def count(d: int | None) -> int:
        if d not in counts:
            counts[d] = len(set(_keys(names, d))) if d is not None and d < deepest else len(names)
        return counts[d]

    if depth == "all":
        depth = None
    if depth == "auto":
        if count(1) <= max_boxes:
            cut = auto_cut(names, ops if ops is not None else [""] * len(names), auto_boxes, max_boxes)
            return (None, list(names), notes) if cut is None else ("auto", cut, notes)
        depth = 1
    if depth is not None and not isinstance(depth, int):
        raise GraphSurgeonError(f"depth must be a number, 'auto' or 'all', not {depth!r}")
    if depth is not None and depth < 1:
        raise GraphSurgeonError(f"--depth must be 1 or more (or 'auto', 'all'), not {depth}")
    if depth is not None and depth >= deepest:
        depth = None
    if count(depth) <= max_boxes:
        return depth, _keys(names, depth), notes
    for d in range((depth if depth is not None else deepest) - 1, 0, -1):
        if count(d) <= max_boxes:
            notes.append(f"{'every node' if depth is None else f'depth {depth}'} would draw {count(depth)} boxes, "
                         f"more than a page lays out in reasonable time ({max_boxes}); drawn at depth {d} instead")
            return d, _keys(names, d), notes
    raise UnsupportedError(
        f"too large to draw: {len(names)} nodes make {count(1)} boxes even with every top-level "
        f"namespace collapsed, more than a page lays out in reasonable time ({max_boxes}); draw part of it "
        "with --outputs NAMES, --around NODE --radius K, or --why NODE")


def build_drawing(graph_def: graph_pb2.GraphDef, *, depth: int | str | None = "auto",
                  outputs: Iterable[str] = (), around: str | None = None, radius: int = 2,
                  why: str | None = None, states: Mapping[str, str] | None = None,
                  title: str = "graph", max_boxes: int = MAX_BOXES, max_edges: int = MAX_EDGES) -> Drawing:
    """Chooses the boxes and edges to draw (see the module docstring).

    ``states`` maps node names to a diff state (``added``, ``removed``, ``changed``, ``same``) to
    colour by. Raises ``NodeNotFoundError`` for unknown names and ``UnsupportedError`` when the
    picture would be too large to lay out even collapsed.
    """
    outputs = list(outputs)
    nodes = list(graph_def.node)   # one pass over the protobuf; indexing it again is slow
    all_names = [n.name for n in nodes]
    if outputs or around is not None or why is not None:
        view = GraphView(graph_def, allow_dangling=True)
        keep, highlight, notes, why_edges = _selected(view, all_names, outputs, around, radius, why)
        nodes = [nodes[i] for i in keep]
    else:
        highlight, notes, why_edges = {}, [], set()
    names = [n.name for n in nodes] if len(nodes) != len(all_names) else all_names
    chosen, keys, depth_notes = choose_depth(names, depth, max_boxes=max_boxes, ops=[n.op for n in nodes])
    notes.extend(depth_notes)
    members: dict[str, list[node_def_pb2.NodeDef]] = {}
    for node, key in zip(nodes, keys):
        members.setdefault(key, []).append(node)
    box_of = dict(zip(names, keys))
    boxes: list[Box] = []
    ids: dict[str, str] = {}
    for number, (key, group) in enumerate(members.items()):
        box_id = f"b{number}"
        ids[key] = box_id
        ops = Counter(n.op for n in group)
        single = len(group) == 1 and group[0].name == key
        const_bytes, detail = 0, ""
        if ops["Const"] or ops["HostConst"]:
            for n in group:
                if n.op in ("Const", "HostConst"):
                    text, size = _const_detail(n, with_text=single)
                    const_bytes += size
                    detail = text
        if single:
            kind = op_kind(group[0].op)
        else:
            kinds: Counter[str] = Counter()
            for op, count in ops.items():
                kinds[op_kind(op)] += count
            kind = next((k for k in ("conv", "matmul", "control flow", "variable", "placeholder") if kinds[k]),
                        "constant" if kinds["constant"] == len(group) else "other")
        box = Box(id=box_id, name=key, namespace=not single, count=len(group), ops=ops, kind=kind,
                  const_bytes=const_bytes, detail=detail if single else "")
        if highlight:
            marks = [highlight[n.name] for n in group if n.name in highlight]
            if marks:
                box.highlight = "why" if "why" in marks else marks[0]
        if states is not None:
            box.states = Counter(states.get(n.name, "same") for n in group)
            box.state = next(s for s in _STATE_ORDER if box.states[s])
            if box.state in ("added", "removed") and len(box.states) > 1:
                box.state = "changed"
        boxes.append(box)
    edges: dict[tuple[str, str], Edge] = {}
    for node, dst in zip(nodes, keys):
        for raw in node.input:
            control = raw[:1] == "^"
            src_node = raw[1:] if control else raw.rsplit(":", 1)[0] if ":" in raw else raw
            src = box_of.get(src_node)
            if src is None or src == dst:
                continue
            edge = edges.get((src, dst))
            if edge is None:
                edge = edges[(src, dst)] = Edge(ids[src], ids[dst], 0, control=control)
            else:
                edge.control = edge.control and control
            edge.count += 1
            if why_edges and (src_node, node.name) in why_edges:
                edge.highlight = True
    if len(edges) > max_edges:
        raise UnsupportedError(
            f"too large to draw: {len(boxes)} boxes with {len(edges)} edges between them, more than a page lays "
            f"out in reasonable time ({max_edges} edges); try a smaller --depth, or draw part of the graph with "
            "--outputs NAMES or --around NODE --radius K")
    if chosen is not None:
        collapsed = sum(1 for b in boxes if b.namespace)
        how = ("namespaces collapsed, those holding most of the ops opened (--depth auto)" if chosen == "auto"
               else f"namespaces below depth {chosen} collapsed")
        notes.append(f"{how}: {collapsed} of the {len(boxes)} boxes are namespaces, {len(nodes)} nodes in all "
                     "(--depth N to choose, --depth all for every node)")
    return Drawing(boxes=boxes, edges=list(edges.values()), title=title, depth=chosen, nodes_drawn=len(nodes),
                   graph_nodes=len(all_names), notes=notes, diff=states is not None)


# --- DOT -----------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _is_plumbing(op: str) -> bool:
    return op in ("Identity", "NoOp") or op_kind(op) in ("constant", "variable")


def _box_label(box: Box) -> str:
    if not box.namespace:
        op = next(iter(box.ops))
        lines = [box.name, op]
        if box.detail:
            lines[1] = f"{op} {box.detail}"
    else:
        # the ops of the box's own kind first (VariableV2 for variables, Conv2D for a conv block), then
        # the ops that do the work, then constants and variable plumbing
        ranked = sorted(box.ops.items(), key=lambda item: (op_kind(item[0]) != box.kind, _is_plumbing(item[0]),
                                                           -item[1], item[0]))
        top = ", ".join(f"{count} {op}" for op, count in ranked[:3])
        more = len(box.ops) - 3
        noun = "node" if box.count == 1 else "nodes"
        lines = [f"{box.name}/", f"{box.count} {noun}: {top}" + (f", +{more} ops" if more > 0 else "")]
        if box.const_bytes:
            lines.append(f"constants {format_bytes(box.const_bytes)}")
    if box.state and box.namespace and box.state != "same":
        lines.append(", ".join(f"{count} {state}" for state, count in sorted(box.states.items())))
    return "\n".join(lines)


def _tooltip(box: Box) -> str:
    ops = ", ".join(f"{op} x{count}" for op, count in box.ops.most_common(12))
    return f"{box.name} ({box.count} node{'s' if box.count != 1 else ''}): {ops}"


def to_dot(drawing: Drawing) -> str:
    """The drawing in Graphviz's DOT language (deterministic: boxes and edges in graph order)."""
    lines = [
        "digraph graphsurgeon {",
        f"  graph [rankdir=TB, fontname=Helvetica, nodesep=0.2, ranksep=0.3, tooltip={_quote(drawing.title)}];",
        '  node [shape=box, style="rounded,filled", fontname=Helvetica, fontsize=10, height=0.3, margin="0.08,0.03"];',
        "  edge [color=\"#707070\", arrowsize=0.6];",
    ]
    for box in drawing.boxes:
        fill = DIFF_COLOURS[box.state] if drawing.diff and box.state else kind_colour(box.kind)
        attrs = [f"label={_quote(_box_label(box))}", f'fillcolor="{fill}"', f"tooltip={_quote(_tooltip(box))}",
                 f'class="{"ns" if box.namespace else "op"} kind_{box.kind.replace(" ", "_")}'
                 + (f" {box.state}" if box.state else "") + (f" hl_{box.highlight}" if box.highlight else "") + '"']
        if box.namespace:
            attrs.append('style="filled,bold"')
            attrs.append(f'color="{NAMESPACE_BORDER}"')
        if box.highlight:
            attrs.append(f'color="{HIGHLIGHT_COLOURS[box.highlight]}"')
            attrs.append("penwidth=3")
        lines.append(f"  {box.id} [{', '.join(attrs)}];")
    for edge in drawing.edges:
        attrs = []
        if edge.control:
            attrs.append("style=dashed")
        if edge.count > 1:
            attrs.append(f"penwidth={min(1 + math.log2(edge.count) / 2, 4):.2f}")
        if edge.highlight:
            attrs += [f'color="{HIGHLIGHT_COLOURS["why"]}"', "penwidth=3"]
        lines.append(f"  {edge.src} -> {edge.dst}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- SVG through Graphviz ------------------------------------------------------------------------

_DOT_TIMEOUT_S = 600


def to_svg(drawing: Drawing) -> bytes:
    """Runs Graphviz's ``dot -Tsvg``; ``MissingDependencyError`` naming the package when it is absent."""
    dot = shutil.which("dot")
    if dot is None:
        raise MissingDependencyError(
            "drawing SVG needs Graphviz's 'dot' program, which is not installed: install the graphviz "
            "package (apt-get install graphviz, brew install graphviz or conda install graphviz), or draw a "
            "page that needs nothing installed: -o graph.html")
    try:
        done = subprocess.run([dot, "-Tsvg"], input=to_dot(drawing).encode("utf-8"), capture_output=True,
                              timeout=_DOT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as err:
        raise GraphSurgeonError(f"Graphviz's dot took more than {_DOT_TIMEOUT_S} s; draw less (--depth, "
                                "--outputs, --around)") from err
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphSurgeonError(f"Graphviz's dot failed: {message[-1] if message else done.returncode}")
    return done.stdout


# --- the HTML page -------------------------------------------------------------------------------

VIZ_JS = "_vendor/viz-js/viz-global.js"


def _viz_source() -> str:
    return (importlib.resources.files("graphsurgeon") / VIZ_JS).read_text(encoding="utf-8")


def _legend(drawing: Drawing) -> str:
    if drawing.diff:
        items = [(state, colour) for state, colour in DIFF_COLOURS.items()]
    else:
        items = [(kind, colour) for kind, (colour, _) in OP_KINDS.items()] + [("other", OTHER_COLOUR)]
    spans = "".join(f'<span class="key" style="background:{c}">{html.escape(k)}</span>' for k, c in items)
    marks = "".join(f'<span class="key" style="border:3px solid {c}">{html.escape(k)}</span>'
                    for k, c in HIGHLIGHT_COLOURS.items()
                    if any(b.highlight == k for b in drawing.boxes))
    return spans + marks


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="__CSP__">
<title>__TITLE__</title>
<style>
html, body { margin: 0; height: 100%; font: 13px Helvetica, Arial, sans-serif; }
#gs-bar { padding: 6px 10px; border-bottom: 1px solid #ccc; background: #fafafa; }
#gs-bar h1 { font-size: 14px; margin: 0 0 4px 0; }
#gs-bar .key { display: inline-block; padding: 1px 6px; margin-right: 4px; border-radius: 3px; }
#gs-notes { margin: 4px 0 0 0; padding-left: 18px; color: #333; }
#gs-status { color: #555; }
#gs-status[data-state=error] { color: #b00; font-weight: bold; }
#gs-graph { position: absolute; top: var(--bar, 90px); left: 0; right: 0; bottom: 0; overflow: hidden; cursor: grab; }
#gs-graph svg { width: 100%; height: 100%; }
</style></head>
<body>
<div id="gs-bar"><h1>__TITLE__</h1>
<div>__LEGEND__ <span id="gs-status" data-state="loading">laying out __BOXES__ boxes...</span></div>
<ul id="gs-notes">__NOTES__</ul></div>
<div id="gs-graph"></div>
<script>
__VIZ__
</script>
<script>
(function () {
  "use strict";
  var DOT = __DOT__;
  var status = document.getElementById("gs-status");
  var holder = document.getElementById("gs-graph");
  document.documentElement.style.setProperty("--bar", document.getElementById("gs-bar").offsetHeight + "px");
  function fail(message) {
    status.dataset.state = "error";
    status.textContent = "error: " + message;
  }
  window.addEventListener("error", function (event) { fail(event.message); });
  document.addEventListener("securitypolicyviolation", function (event) {
    fail("blocked by the page's security policy: " + event.violatedDirective + " " + event.blockedURI);
  });
  function panZoom(svg) {
    var box = svg.viewBox.baseVal;
    var view = { x: box.x, y: box.y, w: box.width, h: box.height };
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    function apply() { svg.setAttribute("viewBox", view.x + " " + view.y + " " + view.w + " " + view.h); }
    function scale() { var r = svg.getBoundingClientRect(); return Math.max(view.w / r.width, view.h / r.height); }
    holder.addEventListener("wheel", function (event) {
      event.preventDefault();
      var r = svg.getBoundingClientRect(), s = scale();
      var px = view.x + (event.clientX - r.left - (r.width - view.w / s) / 2) * s;
      var py = view.y + (event.clientY - r.top - (r.height - view.h / s) / 2) * s;
      var f = event.deltaY > 0 ? 1.2 : 1 / 1.2;
      view.x = px - (px - view.x) * f; view.y = py - (py - view.y) * f; view.w *= f; view.h *= f;
      apply();
    }, { passive: false });
    var drag = null;
    holder.addEventListener("mousedown", function (event) { drag = { x: event.clientX, y: event.clientY }; });
    window.addEventListener("mouseup", function () { drag = null; });
    window.addEventListener("mousemove", function (event) {
      if (!drag) { return; }
      var s = scale();
      view.x -= (event.clientX - drag.x) * s; view.y -= (event.clientY - drag.y) * s;
      drag = { x: event.clientX, y: event.clientY };
      apply();
    });
    holder.addEventListener("dblclick", function () {
      view = { x: box.x, y: box.y, w: box.width, h: box.height };
      apply();
    });
  }
  Viz.instance().then(function (viz) {
    var start = performance.now();
    var svg = viz.renderSVGElement(DOT);
    holder.appendChild(svg);
    var boxes = svg.querySelectorAll("g.node").length;
    var edges = svg.querySelectorAll("g.edge").length;
    panZoom(svg);
    status.dataset.boxes = boxes;
    status.dataset.edges = edges;
    if (status.dataset.state !== "error") {
      status.dataset.state = "ok";
      status.textContent = boxes + " boxes, " + edges + " edges, laid out in " +
        Math.round(performance.now() - start) + " ms (wheel: zoom, drag: pan, double-click: fit)";
    }
  }).catch(function (err) { fail(String(err && err.message || err)); });
})();
</script>
</body></html>
"""


# The page may run only its own inline scripts and WebAssembly, and fetch nothing: it works offline
# and cannot leak a graph's names anywhere.
_CSP = "default-src 'none'; script-src 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'unsafe-inline'; img-src data:"


def _script_json(value: object) -> str:
    """JSON that is safe inside a <script> element (no ``</script>``, no HTML comment openers)."""
    return (json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def to_html(drawing: Drawing) -> str:
    """A self-contained page that lays the drawing out in the browser, offline (Viz.js inlined)."""
    viz = _viz_source()
    if "</script" in viz.lower():
        raise AssertionError("the vendored Viz.js contains '</script'; it cannot be inlined")
    notes = "".join(f"<li>{html.escape(note)}</li>" for note in drawing.notes)
    subs = {
        "__CSP__": _CSP,
        "__TITLE__": html.escape(drawing.title),
        "__LEGEND__": _legend(drawing),
        "__BOXES__": str(len(drawing.boxes)),
        "__NOTES__": notes,
        "__DOT__": _script_json(to_dot(drawing)),
    }
    page = _PAGE
    for key, value in subs.items():
        page = page.replace(key, value)
    head, tail = page.split("__VIZ__")
    return head + viz + tail


# --- writing -------------------------------------------------------------------------------------

FORMATS = ("html", "svg", "dot")


def format_for(path: str | os.PathLike[str], given: str | None = None) -> str:
    """``html``, ``svg`` or ``dot`` from ``given`` or the file's extension (``.htm``/``.gv`` too)."""
    if given:
        if given not in FORMATS:
            raise GraphSurgeonError(f"unknown drawing format '{given}'; choose one of {', '.join(FORMATS)}")
        return given
    ext = os.path.splitext(str(path))[1].lower().lstrip(".")
    ext = {"htm": "html", "gv": "dot"}.get(ext, ext)
    if ext not in FORMATS:
        raise GraphSurgeonError(f"cannot tell the drawing format of '{path}' from its extension; name it "
                                ".html, .svg or .dot, or give --format html|svg|dot")
    return ext


def render(drawing: Drawing, fmt: str) -> bytes:
    if fmt == "html":
        return to_html(drawing).encode("utf-8")
    if fmt == "svg":
        return to_svg(drawing)
    return to_dot(drawing).encode("utf-8")


def write_drawing(drawing: Drawing, path: str | os.PathLike[str], fmt: str | None = None,
                  inputs: Iterable[str | os.PathLike[str]] = ()) -> int:
    """Renders and writes ``drawing`` atomically (never over one of ``inputs``); returns bytes written."""
    data = render(drawing, format_for(path, fmt))
    with atomic_writer(path, inputs, fsync=False) as handle:
        handle.write(data)
    return len(data)
