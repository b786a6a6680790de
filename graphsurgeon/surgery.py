"""Graph surgery: find, remove, rename, insert, replace and collapse nodes of a GraphDef.

``GraphEditor`` is an editor object over its OWN copy of a GraphDef: the GraphDef given to it is
copied once and never modified. Each edit builds the next version of the graph and checks it
(``graphsurgeon.graph.check.check_graph`` with ``frozen=False``: names, inputs, ports, control
order, colocation targets, loop structure; and, for edits that add edges, no cycle other than a
while loop's back edge); an edit that would break the graph raises a ``GraphSurgeonError``
naming the node, and the editor keeps the graph it had before that edit. ``editor.graph_def`` is
the current result; a GraphDef returned by it is never changed by later edits (each edit makes a
new message), so snapshots are safe to keep.

Typical plugin-node workflow (what the old TensorFlow graphsurgeon's ``collapse_namespaces`` and
``create_plugin_node`` did, with every reference rewired and checked)::

    from graphsurgeon.surgery import GraphEditor
    editor = GraphEditor(graph_def)
    editor.collapse("detector/postprocess", op="NMS_TRT", attrs={"topK": 100, "iouThreshold": 0.5})
    editor.remove(editor.find(op="Identity"), forward=True)
    save_graph(editor.graph_def, "plugin.pb")

Names follow TensorFlow: ``node`` is a node name, ``node:1`` a tensor, ``^node`` a control input.
Unknown names raise ``NodeNotFoundError`` with close matches; nothing here asserts.

The helpers that make nodes and typed attr values (``make_node``, ``const_node``, ``attr_value``,
``dtype_attr``, ``shape_attr``, ``tensor_attr``, ``list_attr``, ``func_attr``; defined in
``graphsurgeon.graph.nodes``) and ``bypass_nodes`` (``graphsurgeon.graph.bypass``) are importable
from here too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from graphsurgeon._proto import graph_pb2, node_def_pb2, types_pb2
from graphsurgeon.errors import (
    GraphSurgeonError,
    InvalidGraphError,
    NodeNotFoundError,
    close_matches,
    listed,
    not_found,
)
from graphsurgeon.graph.bypass import bypass_nodes, data_inputs
from graphsurgeon.graph.check import check_graph
from graphsurgeon.graph.names import TensorRef, colocation_entry, colocation_target, format_input, parse_input
from graphsurgeon.graph.nodes import (
    attr_value,
    const_node,
    dtype_attr,
    func_attr,
    graph_like,
    list_attr,
    make_node,
    shape_attr,
    tensor_attr,
)
from graphsurgeon.graph.view import GraphView, colocation_targets

log = logging.getLogger(__name__)

DT = types_pb2.DataType

__all__ = [
    "GraphEditor",
    "apply",
    "attr_value",
    "bypass_nodes",
    "const_node",
    "dtype_attr",
    "func_attr",
    "list_attr",
    "make_node",
    "namespace_nodes",
    "shape_attr",
    "tensor_attr",
]

#: Ops whose outputs are dead in the branch not taken: a control edge on the node is not one on an output.
SWITCH_OPS = frozenset({"Switch", "RefSwitch", "_SwitchN"})


# ------------------------------------------------------------------------------------- selection


def namespace_nodes(names: Iterable[str], namespace: str) -> list[str]:
    """The names inside ``namespace``: the node named ``namespace`` itself and every ``namespace/...``."""
    scope = namespace.rstrip("/")
    prefix = scope + "/"
    return [n for n in names if n == scope or n.startswith(prefix)]


# ------------------------------------------------------------------------------------------ editor


class GraphEditor:
    """Edits its own copy of a GraphDef; every edit is checked, and a failed edit changes nothing.

    Cost: an edit copies the graph and checks all of it, so it takes time in proportion to the
    graph (about a second for 100k nodes). On a large graph, batch work into one edit (``remove``
    and ``rename`` take many names at once), or pass ``check=False`` and call ``check()`` at the end.

    Args:
        graph_def: the graph to edit; it is copied and never modified.
        check: run ``check_graph(frozen=False)`` on the input (the input must be sound) and after every
            edit. Turn it off only for a batch of edits followed by ``check()``.
        source: how to name the graph in error messages (a file name).

    Raises:
        InvalidGraphError: the input graph itself is broken (when ``check``).
    """

    def __init__(self, graph_def: graph_pb2.GraphDef, *, check: bool = True, source: str = "graph") -> None:
        if not isinstance(graph_def, graph_pb2.GraphDef):
            raise TypeError(f"GraphEditor needs a graphsurgeon GraphDef, not {type(graph_def).__name__} (convert "
                            "TensorFlow's with graph_pb2.GraphDef.FromString(tf_graph_def.SerializeToString()))")
        self._check = check
        self._source = source
        copy = graph_pb2.GraphDef()
        copy.CopyFrom(graph_def)
        if check:
            check_graph(copy, frozen=False, source=source)
        self._graph_def = copy
        self._view: GraphView | None = None
        self._index: dict[str, int] | None = None

    # --- reading -------------------------------------------------------------------------------

    @property
    def graph_def(self) -> graph_pb2.GraphDef:
        """The current graph. Later edits make new messages, so a returned GraphDef never changes under you;
        do not modify it yourself while the editor uses it (copy it first)."""
        return self._graph_def

    @property
    def view(self) -> GraphView:
        """A GraphView of the current graph (rebuilt after each edit)."""
        if self._view is None:
            self._view = GraphView(self._graph_def, allow_dangling=not self._check)
        return self._view

    @property
    def names(self) -> list[str]:
        """Node names in graph order."""
        return [n.name for n in self._graph_def.node]

    def __len__(self) -> int:
        return len(self._graph_def.node)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and parse_input(name).node in self._names_index()

    def _names_index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {n.name: i for i, n in enumerate(self._graph_def.node)}
        return self._index

    def _resolve(self, name: str, kind: str = "node") -> str:
        node = parse_input(name).node
        if node not in self._names_index():
            err = not_found(kind, node, self._names_index(), where=self._source)
            raise NodeNotFoundError(str(err).replace(f"{kind} '{node}'", f"{kind} '{name}'", 1))
        return node

    def node(self, name: str) -> node_def_pb2.NodeDef:
        """The NodeDef of a node (or tensor) name, read-only; ``NodeNotFoundError`` with close matches."""
        return self._graph_def.node[self._names_index()[self._resolve(name)]]

    def find(self, name: str | None = None, *, op: str | Iterable[str] | None = None, regex: str | None = None,
             namespace: str | None = None) -> list[str]:
        """Names of the nodes matching every criterion given, in graph order (an empty list when none).

        Args:
            name: an exact node (or tensor) name.
            op: an op type or a collection of them (``"Identity"``, ``{"Switch", "Merge"}``).
            regex: a regular expression that must match the whole node name (``re.fullmatch``).
            namespace: a name scope: the node of that name and everything under ``namespace/``.
        """
        ops = None if op is None else ({op} if isinstance(op, str) else set(op))
        pattern = None
        if regex is not None:
            try:
                pattern = re.compile(regex)
            except re.error as err:
                raise GraphSurgeonError(f"bad regex {regex!r}: {err}") from None
        exact = None if name is None else parse_input(name).node
        scope = None if namespace is None else namespace.rstrip("/")
        out = []
        for node in self._graph_def.node:
            if exact is not None and node.name != exact:
                continue
            if ops is not None and node.op not in ops:
                continue
            if pattern is not None and not pattern.fullmatch(node.name):
                continue
            if scope is not None and not (node.name == scope or node.name.startswith(scope + "/")):
                continue
            out.append(node.name)
        return out

    def consumers(self, name: str, kinds: Iterable[str] = ("data", "control")) -> list[str]:
        """Nodes that use ``name`` (a node, or one tensor ``a:1``); see ``GraphView.consumers``."""
        self._resolve(name)
        return self.view.consumers(name, kinds)

    def producers(self, name: str, kinds: Iterable[str] = ("data", "control")) -> list[str]:
        """Nodes that ``name`` takes inputs from; see ``GraphView.producers``."""
        self._resolve(name)
        return self.view.producers(name, kinds)

    def check(self) -> None:
        """Runs the structural check on the current graph (``InvalidGraphError`` naming the node)."""
        check_graph(self._graph_def, frozen=False, source=self._source)

    # --- editing core --------------------------------------------------------------------------

    def _commit(self, new: graph_pb2.GraphDef, what: str, new_edges: bool = False) -> None:
        if self._check:
            check_graph(new, frozen=False, source=f"{self._source} after {what}")
            if new_edges:  # check_graph does not look for cycles; an edit that adds edges can make one
                try:
                    GraphView(new).topological_order()
                except InvalidGraphError as err:
                    raise InvalidGraphError(f"{self._source} after {what}: {err}") from None
        self._graph_def = new
        self._view = None
        self._index = None

    def _copy(self) -> graph_pb2.GraphDef:
        new = graph_pb2.GraphDef()
        new.CopyFrom(self._graph_def)
        return new

    def _names_arg(self, nodes: str | Iterable[str]) -> list[str]:
        given = [nodes] if isinstance(nodes, str) else list(nodes)
        return list(dict.fromkeys(self._resolve(n) for n in given))

    # --- edits ---------------------------------------------------------------------------------

    def remove(self, nodes: str | Iterable[str], *, forward: bool = True) -> None:
        """Removes nodes; with ``forward`` their consumers take their inputs instead.

        With ``forward=True`` a consumer of ``node:0`` gets ``node``'s only data input (so removing an
        Identity, CheckNumerics or StopGradient reconnects around it; chains are followed; for IdentityN
        output ``k`` gets input ``k``; a node with several data inputs forwards nothing), and the
        removed node's control inputs become control inputs of its consumers. A consumer's ``^node``
        becomes control inputs on what ``node`` depended on. With ``forward=False`` nothing may still
        use a data output of a removed node; ``^node`` control inputs are replaced the same way.
        ``_class: loc:@node`` entries naming removed nodes are dropped.

        Raises:
            NodeNotFoundError: a name is not in the graph.
            GraphSurgeonError: a kept node uses an output that cannot be forwarded (the message names both).
        """
        names = self._names_arg(nodes)
        if not names:
            return
        plan: dict[str, dict[int, TensorRef | None]] = {}
        for name in names:
            node = self.node(name)
            data = data_inputs(node)
            if not forward:
                plan[name] = {}
            elif node.op == "IdentityN":
                plan[name] = dict(enumerate(data))
            else:
                plan[name] = {0: data[0]} if len(data) == 1 else {}
        self._commit(bypass_nodes(self._graph_def, plan, what="remove"),
                     f"removing {listed(names)}")

    def rename(self, old: str | Mapping[str, str], new: str | None = None) -> None:
        """Renames one node (``rename("a", "b")``) or many (``rename({"a": "b", ...})``); every input, control
        input and ``_class: loc:@`` reference follows.

        Raises:
            NodeNotFoundError: an old name is not in the graph.
            GraphSurgeonError: a new name is taken, empty, or not a valid node name.
        """
        if isinstance(old, str) and new is None:
            raise GraphSurgeonError("rename needs the new name: rename(old, new) or rename({old: new})")
        mapping = {old: new} if isinstance(old, str) else dict(old)
        resolved: dict[str, str] = {}
        for src, dst in mapping.items():
            src_node = self._resolve(src)
            if dst is None:
                raise GraphSurgeonError(f"rename of '{src}' needs the new name")
            _check_new_name(dst)
            if src_node != dst:
                resolved[src_node] = dst
        if not resolved:
            return
        final = [resolved.get(n, n) for n in self.names]
        if len(set(final)) != len(final):
            taken = sorted({d for d in resolved.values() if final.count(d) > 1})
            raise GraphSurgeonError(f"cannot rename to {listed(taken)}: the name is already taken by another node")
        out = self._copy()
        for node in out.node:
            _rename_refs(node, resolved)
        self._commit(out, f"renaming {listed(list(resolved))}")

    def rename_namespace(self, old: str, new: str) -> list[str]:
        """Renames every node in namespace ``old`` (``old`` and ``old/...``) to the same name under ``new``
        (``new`` may be ``""`` to drop the scope). Returns the renamed nodes' old names."""
        scope = old.rstrip("/")
        members = namespace_nodes(self.names, scope)
        if not members:
            raise _no_namespace(scope, self.names)
        target = new.rstrip("/")
        mapping = {}
        for name in members:
            rest = name[len(scope):].lstrip("/")
            if not target:
                if not rest:
                    raise GraphSurgeonError(f"cannot drop scope '{scope}': node '{name}' would have an empty name")
                mapping[name] = rest
            else:
                mapping[name] = target + ("/" + rest if rest else "")
        self.rename(mapping)
        return members

    def add(self, nodes: node_def_pb2.NodeDef | Iterable[node_def_pb2.NodeDef], *, after: str | None = None) -> None:
        """Adds nodes (copied), at the end or right after node ``after``. Their inputs must exist (or be
        among the added nodes)."""
        new_nodes = [nodes] if isinstance(nodes, node_def_pb2.NodeDef) else list(nodes)
        for n in new_nodes:
            _check_new_name(n.name)
            if n.name in self:
                raise GraphSurgeonError(f"cannot add node '{n.name}': a node of that name exists "
                                        f"({self.node(n.name).op})")
        added = [n.name for n in new_nodes]
        if len(set(added)) != len(added):
            dups = sorted({a for a in added if added.count(a) > 1})
            raise GraphSurgeonError(f"nodes to add share a name: {listed(dups)}")
        position = len(self) if after is None else self._names_index()[self._resolve(after)] + 1
        out = self._copy()
        _insert_nodes(out, position, new_nodes)
        self._commit(out, f"adding {listed(added)}", new_edges=True)

    def insert_after(self, tensor: str, node: node_def_pb2.NodeDef) -> None:
        """Puts ``node`` on tensor ``tensor``: every consumer of ``tensor`` reads ``node:0`` instead.

        ``node`` normally takes ``tensor`` as one of its inputs (e.g. a Cast or a plugin on ``x:0``); it
        is placed right after the last of its producers.
        """
        ref = parse_input(tensor)
        if ref.is_control:
            raise GraphSurgeonError(f"insert_after needs a tensor, not control input '{tensor}'")
        producer = self._resolve(tensor, "tensor")
        _check_new_name(node.name)
        if node.name in self:
            raise GraphSurgeonError(f"cannot insert node '{node.name}': a node of that name exists")
        out = self._copy()
        target = format_input(TensorRef(producer, ref.index))
        for consumer in out.node:
            _replace_data_input(consumer, producer, ref.index, TensorRef(node.name, 0))
        index = self._names_index()
        after = max([index[producer]] + [index[r.node] for r in map(parse_input, node.input) if r.node in index])
        _insert_nodes(out, after + 1, [node])
        self._commit(out, f"inserting '{node.name}' after '{target}'", new_edges=True)

    def rewire(self, old: str, new: str, consumers: Iterable[str] | None = None) -> list[str]:
        """Every consumer of tensor ``old`` (or only ``consumers``) reads tensor ``new`` instead. Returns the
        rewired consumers."""
        old_ref, new_ref = parse_input(old), parse_input(new)
        if old_ref.is_control or new_ref.is_control:
            raise GraphSurgeonError("rewire works on tensors ('a:1'), not control inputs")
        self._resolve(old, "tensor")
        self._resolve(new, "tensor")
        only = None if consumers is None else set(self._names_arg(consumers))
        out = self._copy()
        changed = []
        for node in out.node:
            if only is not None and node.name not in only:
                continue
            if _replace_data_input(node, old_ref.node, old_ref.index, new_ref):
                changed.append(node.name)
        if only is not None and set(changed) != only:
            missing = sorted(only - set(changed))
            raise GraphSurgeonError(f"node(s) {listed(missing)} do not read '{old}'")
        self._commit(out, f"rewiring '{old}' to '{new}'", new_edges=True)
        return changed

    def replace(self, name: str, node: node_def_pb2.NodeDef) -> None:
        """Puts ``node`` in the place of node ``name``. If ``node`` has another name, every reference to
        ``name`` follows (as ``rename``); consumers of ``name:k`` must find an output ``k`` on the new node."""
        old = self._resolve(name)
        _check_new_name(node.name)
        if node.name != old and node.name in self:
            raise GraphSurgeonError(f"cannot replace '{old}' by '{node.name}': a node of that name exists")
        out = self._copy()
        position = self._names_index()[old]
        out.node[position].CopyFrom(node)
        if node.name != old:
            for other in out.node:
                _rename_refs(other, {old: node.name}, rename_self=False)
        self._commit(out, f"replacing '{old}' by '{node.name}' ({node.op})", new_edges=True)

    def update(self, name: str, *, op: str | None = None, inputs: Iterable[str] | None = None,
               attrs: Mapping[str, Any] | None = None, remove_attrs: Iterable[str] = (),
               device: str | None = None) -> None:
        """Changes one node in place: its op, its inputs (all of them), attrs to set, attrs to drop, device."""
        old = self._resolve(name)
        out = self._copy()
        node = out.node[self._names_index()[old]]
        if op is not None:
            node.op = op
        if inputs is not None:
            given = list(inputs)
            del node.input[:]
            node.input.extend([i for i in given if not i.startswith("^")]
                              + list(dict.fromkeys(i for i in given if i.startswith("^"))))
        for key, value in (attrs or {}).items():
            node.attr[key].CopyFrom(attr_value(value))
        for key in remove_attrs:
            if key in node.attr:
                del node.attr[key]
        if device is not None:
            node.device = device
        self._commit(out, f"updating '{old}'", new_edges=True)

    def collapse(self, target: str | Iterable[str], op: str, *, name: str | None = None,
                 attrs: Mapping[str, Any] | None = None, inputs: Sequence[str] | None = None,
                 outputs: Sequence[str] | None = None, device: str = "") -> node_def_pb2.NodeDef:
        """Replaces a namespace (``target`` a str) or a set of nodes by ONE node of type ``op``.

        The new node's data inputs are the tensors the subgraph reads from outside (in graph order, or
        in the order of ``inputs``); its outputs are the subgraph's tensors used outside it, ``k``-th
        output = ``k``-th tensor in (producer order, port) order, or in the order of ``outputs``. Outside
        consumers are rewired to ``name:k``; control inputs into the subgraph become the new node's
        control inputs; ``^member`` and ``loc:@member`` outside become ``^name`` / ``loc:@name``.

        Args:
            target: a namespace (``"detector/postprocess"``) or node names.
            op: the new node's op (a plugin op name).
            name: the new node's name (default: the namespace).
            attrs: the new node's attrs, through ``attr_value``.
            inputs: the order of the new node's data inputs (each an outside tensor the subgraph reads;
                more may be listed, e.g. to feed a tensor the subgraph did not read).
            outputs: the subgraph tensors that become outputs 0, 1, ... (every tensor used outside must
                be listed; more may be listed, e.g. one that is a graph output).
            device: the new node's device.

        Returns:
            A copy of the new node.

        Raises:
            NodeNotFoundError: an unknown name or an empty namespace.
            GraphSurgeonError: a listed input or output is inside / outside the subgraph, an outside use is
                missing from ``outputs``, or the name is taken.
            InvalidGraphError: collapsing would create a cycle (names the outside node on it).
        """
        if isinstance(target, str):
            members = namespace_nodes(self.names, target)
            if not members:
                raise _no_namespace(target.rstrip("/"), self.names)
            default_name = target.rstrip("/")
        else:
            members = self._names_arg(target)
            if not members:
                raise GraphSurgeonError("collapse needs at least one node")
            default_name = None
        new_name = name or default_name
        if not new_name:
            raise GraphSurgeonError("collapse of a node list needs name=...")
        _check_new_name(new_name)
        inside = set(members)
        if new_name in self and new_name not in inside:
            raise GraphSurgeonError(f"cannot collapse into '{new_name}': a node of that name exists outside the "
                                    "subgraph")
        nodes = self._graph_def.node
        index = self._names_index()

        ext_inputs: dict[str, None] = {}
        ext_controls: dict[str, None] = {}
        for member in sorted(inside, key=index.__getitem__):
            for ref in map(parse_input, nodes[index[member]].input):
                if ref.node in inside:
                    continue
                if ref.is_control:
                    ext_controls[ref.node] = None
                else:
                    ext_inputs[ref.tensor_name] = None
        used: dict[str, list[str]] = {}  # inside tensor -> outside consumers
        for node in nodes:
            if node.name in inside:
                continue
            for ref in map(parse_input, node.input):
                if ref.node in inside and not ref.is_control:
                    used.setdefault(ref.tensor_name, []).append(node.name)

        if inputs is not None:
            order = [self._tensor(t) for t in inputs]
            for t in order:
                if parse_input(t).node in inside:
                    raise GraphSurgeonError(f"collapse input '{t}' is produced inside the subgraph")
            missing = [t for t in ext_inputs if t not in order]
            if missing:
                raise GraphSurgeonError(f"the subgraph also reads {listed(missing)}; list it in inputs")
            input_list = list(dict.fromkeys(order))
        else:
            input_list = list(ext_inputs)
        if outputs is not None:
            output_list = list(dict.fromkeys(self._tensor(t) for t in outputs))
            for t in output_list:
                if parse_input(t).node not in inside:
                    raise GraphSurgeonError(f"collapse output '{t}' is not produced inside the subgraph")
            unlisted = [t for t in used if t not in output_list]
            if unlisted:
                t = unlisted[0]
                raise GraphSurgeonError(f"'{t}' of the subgraph is used by '{used[t][0]}' outside it; add it to "
                                        "outputs (or rewire that consumer first)")
        else:
            output_list = sorted(used, key=lambda t: (index[parse_input(t).node], parse_input(t).index))
        self._check_no_cycle(inside, new_name)
        output_nodes = {parse_input(t).node for t in output_list}
        sinks = [m for m in sorted(inside, key=index.__getitem__)
                 if m not in output_nodes and not self.view.consumers(m, ("data", "control"))]
        if sinks:
            log.warning("collapse: %s inside the subgraph had no consumers (a graph output?) and is not an output "
                        "of '%s'; list it in outputs to keep its value", listed(sinks), new_name)

        position = min(index[m] for m in inside)
        out_index = {t: k for k, t in enumerate(output_list)}
        plugin = make_node(new_name, op, [_short(t) for t in input_list] + ["^" + c for c in ext_controls],
                           attrs, device=device)
        out = graph_like(self._graph_def)
        batch = []
        for i, node in enumerate(nodes):
            if i == position:
                batch.append(plugin)
            if node.name in inside:
                continue
            if not any(parse_input(r).node in inside for r in node.input) and not any(
                    t in inside for t in colocation_targets(node)):
                batch.append(node)
                continue
            new = node_def_pb2.NodeDef()
            new.CopyFrom(node)
            data: list[str] = []
            control: dict[str, None] = {}  # an ordered set
            for ref in map(parse_input, node.input):
                if ref.node in inside:
                    if ref.is_control:
                        control[new_name] = None
                    else:
                        data.append(format_input(TensorRef(new_name, out_index[ref.tensor_name])))
                elif ref.is_control:
                    control[ref.node] = None
                else:
                    data.append(format_input(ref))
            data_nodes = {parse_input(d).node for d in data}
            del new.input[:]
            new.input.extend(data + ["^" + c for c in control if c not in data_nodes])
            if "_class" in new.attr:
                entries = list(dict.fromkeys(
                    colocation_entry(new_name) if colocation_target(e) in inside else e
                    for e in new.attr["_class"].list.s))
                del new.attr["_class"].list.s[:]
                new.attr["_class"].list.s.extend(entries)
            batch.append(new)
        out.node.extend(batch)
        log.info("collapsed %d node(s) into '%s' (%s): %d input(s), %d output(s)", len(inside), new_name, op,
                 len(input_list), len(output_list))
        self._commit(out, f"collapsing {len(inside)} node(s) into '{new_name}'")
        result = node_def_pb2.NodeDef()
        result.CopyFrom(plugin)
        return result

    def _tensor(self, name: str) -> str:
        ref = parse_input(name)
        if ref.is_control:
            raise GraphSurgeonError(f"'{name}' is a control input; give a tensor name")
        self._resolve(name, "tensor")
        return ref.tensor_name

    def _check_no_cycle(self, inside: set[str], new_name: str) -> None:
        view = self.view
        down: set[str] = set()
        stack = [c for m in inside for c in view.consumers(m) if c not in inside]
        while stack:
            n = stack.pop()
            if n in down or n in inside:
                continue
            down.add(n)
            stack.extend(view.consumers(n))
        if not down:
            return
        up: set[str] = set()
        stack = [p for m in inside for p in view.producers(m) if p not in inside]
        while stack:
            n = stack.pop()
            if n in up or n in inside:
                continue
            if n in down:
                index = self._names_index()
                raise InvalidGraphError(
                    f"collapsing into '{new_name}' would make a cycle: node '{n}' (outside) uses the subgraph and "
                    f"feeds it; include '{n}' in the subgraph or choose another set (index {index[n]})")
            up.add(n)
            stack.extend(view.producers(n))


# ------------------------------------------------------------------------------------------ helpers

_BAD_NAME = re.compile(r"[\^:,\s]")


def _check_new_name(name: str) -> None:
    if not isinstance(name, str) or not name or _BAD_NAME.search(name) or name.startswith("/") or name.endswith("/"):
        raise GraphSurgeonError(f"{name!r} is not a valid node name (no '^', ':', ',', spaces; not empty; no "
                                "leading or trailing '/')")


def _short(tensor: str) -> str:
    return format_input(parse_input(tensor))


def _no_namespace(scope: str, names: Iterable[str]) -> NodeNotFoundError:
    scopes: dict[str, None] = {}
    for n in names:
        parts = n.split("/")
        for k in range(1, len(parts) + 1):
            scopes["/".join(parts[:k])] = None
    matches = close_matches(scope, scopes)
    msg = f"namespace '{scope}' not found: no node is named '{scope}' or starts with '{scope}/'"
    if matches:
        msg += "; did you mean " + ", ".join(f"'{m}'" for m in matches) + "?"
    return NodeNotFoundError(msg)


def _rename_refs(node: node_def_pb2.NodeDef, mapping: Mapping[str, str], rename_self: bool = True) -> None:
    if rename_self and node.name in mapping:
        node.name = mapping[node.name]
    if any(parse_input(i).node in mapping for i in node.input):
        new_inputs = []
        for raw in node.input:
            ref = parse_input(raw)
            if ref.node in mapping:
                raw = format_input(ref._replace(node=mapping[ref.node]))
            new_inputs.append(raw)
        del node.input[:]
        node.input.extend(new_inputs)
    if "_class" in node.attr:
        entries = []
        for e in node.attr["_class"].list.s:
            target = colocation_target(e)
            if target is not None and target in mapping:
                e = colocation_entry(mapping[target])
            entries.append(e)
        del node.attr["_class"].list.s[:]
        node.attr["_class"].list.s.extend(entries)


def _replace_data_input(node: node_def_pb2.NodeDef, producer: str, index: int, new: TensorRef) -> bool:
    changed = False
    for i, raw in enumerate(node.input):
        ref = parse_input(raw)
        if not ref.is_control and ref.node == producer and ref.index == index and node.name != new.node:
            node.input[i] = format_input(new)
            changed = True
    return changed


def _insert_nodes(graph_def: graph_pb2.GraphDef, position: int, new_nodes: list[node_def_pb2.NodeDef]) -> None:
    tail = list(graph_def.node[position:])
    del graph_def.node[position:]
    graph_def.node.extend(new_nodes)
    graph_def.node.extend(tail)


def apply(graph_def: graph_pb2.GraphDef, edit: Callable[[GraphEditor], object], *, check: bool = True
          ) -> graph_pb2.GraphDef:
    """Runs ``edit(editor)`` on a GraphEditor of ``graph_def`` and returns the edited graph (input untouched)."""
    editor = GraphEditor(graph_def, check=check)
    edit(editor)
    return editor.graph_def
