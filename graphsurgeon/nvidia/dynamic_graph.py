"""``DynamicGraph``: NVIDIA graphsurgeon's editable graph (remove, forward_inputs, collapse_namespaces, ...).

Every edit changes the GraphDef in place, as NVIDIA's did: nodes a script holds stay the graph's
nodes, and ``as_graph_def()`` is the object the graph was made from. Where NVIDIA's package
asserted or crashed on bad input, these methods raise a ``GraphSurgeonError`` that says what is
wrong; a failed call leaves the graph as it was.

Semantics (NVIDIA's documentation; where its code differed, the documented behaviour):

- ``remove(nodes)`` deletes the nodes and every input that refers to them (data ``x``, ``x:1`` and
  control ``^x``). With ``remove_exclusive_dependencies=True`` it also deletes, recursively, every
  node that only the removed nodes consume.
- ``forward_inputs(nodes)`` deletes the nodes and puts all of a node's inputs where a consumer
  referred to it (in place, in order); a control reference ``^n`` becomes control references to
  those inputs. Nodes with control inputs are left in place (logged), as NVIDIA documents.
- ``collapse_namespaces(map)`` replaces every node in a namespace (``ns`` itself or ``ns/...``; the
  longest namespace wins, so nested namespaces go to their own plugin) by the namespace's plugin
  node. The plugin gets the inputs its members take from outside it (other plugins by name),
  without duplicates unless ``unique_inputs=False``; control edges stay control edges (dropped
  where a data edge from the same node exists) and come after the data inputs.
  Consumers refer to the plugin instead (once). Every plugin node of the map is then appended, once
  per name, in the map's order, and the plugin node objects passed in get the same inputs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import graphsurgeon.nvidia._messages as _messages
from graphsurgeon.errors import InvalidGraphError, UsageError, not_found
from graphsurgeon.graph.names import node_name
from graphsurgeon.nvidia.static_graph import StaticGraph

log = logging.getLogger(__name__)

__all__ = ["DynamicGraph"]


def _is_control(inp: str) -> bool:
    return inp.startswith("^")


def _set_inputs(node: Any, inputs: list[str]) -> None:
    if list(node.input) != inputs:
        del node.input[:]
        node.input.extend(inputs)


def _control_last(inputs: list[str]) -> list[str]:
    return [i for i in inputs if not _is_control(i)] + [i for i in inputs if _is_control(i)]


class DynamicGraph(StaticGraph):
    """A StaticGraph that can be edited: ``remove``, ``forward_inputs``, ``collapse_namespaces``,
    ``append``/``extend``/``add``, ``connect``/``disconnect``, ``sort``."""

    # ------------------------------------------------------------------------------- helpers
    def _resolve(self, nodes: object, what: str) -> list[str]:
        """Node names for ``nodes`` (one node or name, or an iterable of them); each must be in the graph."""
        names: dict[str, None] = {}  # ordered, each name once
        for item in _messages.as_items(nodes):
            name = _messages.node_name_of(item, what)
            if name not in self.node_map:
                raise not_found(f"{what}: node", name, self.node_map, hint="")
            names[name] = None
        return list(names)

    def _delete_nodes(self, names: set[str]) -> None:
        # A stable sort moves the doomed nodes to the end without copying any node (the nodes a
        # script holds stay the graph's), then one slice goes: O(n log n), where deleting one
        # index at a time is O(n) each.
        nodes = self._internal_graphdef.node
        count = sum(1 for node in nodes if node.name in names)
        if count:
            nodes.sort(key=lambda node: node.name in names)
            del nodes[len(nodes) - count:]

    def _new_node(self, node: object, what: str) -> Any:
        if not _messages.is_node_def(node):
            raise UsageError(f"{what}: expected a NodeDef (from create_node or TensorFlow), got {type(node).__name__}")
        return _messages.convert(node, _messages.node_class_of(self._internal_graphdef))

    # ------------------------------------------------------------------------------- remove
    def _exclusive_dependencies(self, names: list[str]) -> set[str]:
        """``names`` and every node that, once they are gone, nothing else consumes (recursively)."""
        remaining = {name: len(consumers) for name, consumers in self.node_outputs.items()}
        removed = set(names)
        stack = list(names)
        while stack:
            node = self.node_map[stack.pop()]
            for inp in node.input:
                source = node_name(inp)
                if source not in self.node_map:
                    continue
                remaining[source] -= 1
                if remaining[source] == 0 and source not in removed:
                    removed.add(source)
                    stack.append(source)
        return removed

    def remove(self, nodes: object, remove_exclusive_dependencies: bool = False) -> None:
        """Deletes ``nodes`` (nodes or names, or one) and every input referring to them.

        With ``remove_exclusive_dependencies=True``, also deletes the nodes that only they consume,
        recursively, so the graph gains no hanging nodes.
        """
        names = self._resolve(nodes, "remove")
        doomed = self._exclusive_dependencies(names) if remove_exclusive_dependencies else set(names)
        self._delete_nodes(doomed)
        for node in self._internal_graphdef.node:
            kept = [inp for inp in node.input if node_name(inp) not in doomed]
            if len(kept) != len(node.input):
                _set_inputs(node, kept)
        self._initialize_analysis_data()

    # ------------------------------------------------------------------------------- forward
    def forward_inputs(self, nodes: object) -> None:
        """Deletes ``nodes`` and wires each one's inputs to its consumers, in its place.

        Nodes with control inputs are not removed (NVIDIA's documented rule); remove those inputs first.
        """
        names = self._resolve(nodes, "forward_inputs")
        forwarded: dict[str, list[str]] = {}
        for name in names:
            node = self.node_map[name]
            if any(_is_control(inp) for inp in node.input):
                log.warning("forward_inputs: '%s' has control inputs, so it stays in the graph", name)
            else:
                forwarded[name] = list(node.input)

        expanded: dict[str, list[str]] = {}

        def expand(name: str, visiting: tuple[str, ...] = ()) -> list[str]:
            # The inputs that replace a reference to forwarded node ``name``, themselves forwarded.
            if name in expanded:
                return expanded[name]
            if name in visiting:
                raise InvalidGraphError("forward_inputs: the nodes form a cycle: " + " -> ".join((*visiting, name)))
            result: list[str] = []
            for inp in forwarded[name]:
                source = node_name(inp)
                result.extend(expand(source, (*visiting, name)) if source in forwarded else [inp])
            expanded[name] = result
            return result

        for name in forwarded:
            expand(name)
        for node in self._internal_graphdef.node:
            if node.name in forwarded or not any(node_name(i) in forwarded for i in node.input):
                continue
            new: list[str] = []
            for inp in node.input:
                source = node_name(inp)
                if source not in forwarded:
                    new.append(inp)
                elif not _is_control(inp):
                    new.extend(expanded[source])
                else:
                    for replacement in expanded[source]:
                        ref = "^" + node_name(replacement)
                        if ref not in new:
                            new.append(ref)
            _set_inputs(node, new)
        self._delete_nodes(set(forwarded))
        self._initialize_analysis_data()

    # ------------------------------------------------------------------------------- collapse
    def collapse_namespaces(self, namespace_map: Mapping[str, Any], exclude_nodes: object = None,
                            unique_inputs: bool = True) -> None:
        """Collapses each namespace of ``namespace_map`` into its plugin node (see the module docstring).

        Args:
            namespace_map: namespace -> plugin NodeDef (several namespaces may share one plugin).
            exclude_nodes: nodes (or names) that stay as they are, even inside a namespace.
            unique_inputs: give each plugin an input only once (NVIDIA's default); False keeps repeats.
        """
        if not isinstance(namespace_map, Mapping):
            raise UsageError(f"collapse_namespaces: namespace_map must be a dict of namespace -> plugin node, "
                             f"got {type(namespace_map).__name__}")
        namespaces: dict[str, str] = {}
        plugins: dict[str, Any] = {}  # plugin name -> the first plugin object given for it
        for namespace, plugin in namespace_map.items():
            if not isinstance(namespace, str) or not namespace.strip("/"):
                raise UsageError(f"collapse_namespaces: namespace {namespace!r} is not a non-empty string")
            if not _messages.is_node_def(plugin):
                raise UsageError(f"collapse_namespaces: the plugin for '{namespace}' must be a NodeDef (from "
                                 f"create_plugin_node), got {type(plugin).__name__}")
            if not plugin.name:
                raise UsageError(f"collapse_namespaces: the plugin node for '{namespace}' has no name")
            first: Any = plugins.setdefault(plugin.name, plugin)
            if first is not plugin and first.SerializeToString(deterministic=True) != plugin.SerializeToString(
                    deterministic=True):
                raise UsageError(f"collapse_namespaces: two different plugin nodes are named '{plugin.name}'")
            namespaces[namespace.rstrip("/")] = plugin.name
        excluded = set(self._resolve(exclude_nodes, "collapse_namespaces: exclude_nodes"))

        matched: dict[str, str | None] = {}

        def namespace_of(name: str) -> str | None:
            # The longest namespace of the map that node ``name`` is in, unless it is excluded.
            if name not in matched:
                matched[name] = None
                if name not in excluded:
                    parts = name.split("/")
                    for depth in range(len(parts), 0, -1):
                        prefix = "/".join(parts[:depth])
                        if prefix in namespaces:
                            matched[name] = prefix
                            break
            return matched[name]

        def owner(name: str) -> str | None:
            # The plugin that takes node ``name``, if any.
            namespace = namespace_of(name)
            return None if namespace is None else namespaces[namespace]

        nodes = self._internal_graphdef.node
        collapsed = {node.name for node in nodes if owner(node.name) is not None}
        for name in plugins:
            if name in self.node_map and name not in collapsed:
                raise InvalidGraphError(f"collapse_namespaces: plugin node '{name}' would have the same name as "
                                        f"node '{name}' ({self.node_map[name].op}), which stays in the graph; "
                                        "rename the plugin node or add its namespace to the map")
        used = {namespace_of(name) for name in collapsed}
        unused = [ns for ns in namespaces if ns not in used]
        if unused:
            log.info("collapse_namespaces: no node is in namespace(s) %s", ", ".join(unused))

        node_cls = _messages.node_class_of(self._internal_graphdef)
        work = {name: _messages.convert(plugin, node_cls) for name, plugin in plugins.items()}
        has_input = {name: set(plugin.input) for name, plugin in work.items()}
        data_sources = {name: {node_name(i) for i in plugin.input if not _is_control(i)} for name, plugin in
                        work.items()}

        def add_input(plugin_name: str, ref: str, control: bool) -> None:
            # Data inputs once (or every time, with unique_inputs=False); a control input only when
            # the plugin does not already depend on that node.
            plugin, seen, sources = work[plugin_name], has_input[plugin_name], data_sources[plugin_name]
            source = node_name(ref)
            if control:
                if source in sources or "^" + source in seen:
                    return
                ref = "^" + source
            else:
                if unique_inputs and ref in seen:
                    return
                if "^" + source in seen:  # a data edge makes the control edge redundant
                    plugin.input.remove("^" + source)
                    seen.discard("^" + source)
                sources.add(source)
            plugin.input.append(ref)
            seen.add(ref)

        for node in nodes:
            plugin_name = owner(node.name)
            if plugin_name is not None:
                for inp in node.input:
                    source_plugin = owner(node_name(inp))
                    if source_plugin != plugin_name:  # else an edge inside the plugin
                        add_input(plugin_name, inp if source_plugin is None else source_plugin, _is_control(inp))
            elif any(owner(node_name(inp)) is not None for inp in node.input):
                new: list[str] = []
                for inp in node.input:
                    source_plugin = owner(node_name(inp))
                    if source_plugin is None:
                        new.append(inp)
                        continue
                    if _is_control(inp):
                        if source_plugin not in new and "^" + source_plugin not in new:
                            new.append("^" + source_plugin)
                    elif source_plugin not in new:
                        if "^" + source_plugin in new:  # a data edge makes the control edge redundant
                            new.remove("^" + source_plugin)
                        new.append(source_plugin)
                _set_inputs(node, _control_last(new))
        self._delete_nodes(collapsed)
        for name, plugin in work.items():
            _set_inputs(plugin, _control_last(list(plugin.input)))
            if plugin is not plugins[name]:
                _messages.assign(plugins[name], plugin)  # the caller's object gets the inputs, as with NVIDIA's
            nodes.add().CopyFrom(plugin)
        self._initialize_analysis_data()

    # ------------------------------------------------------------------------------- add nodes
    def _add_nodes(self, new_nodes: list[Any], what: str) -> None:
        converted = [self._new_node(node, what) for node in new_nodes]
        seen: set[str] = set()
        for node in converted:
            if not node.name:
                raise UsageError(f"{what}: a node has no name")
            if node.name in self.node_map or node.name in seen:
                raise InvalidGraphError(f"{what}: the graph already has a node named '{node.name}'")
            seen.add(node.name)
        for node in converted:
            self._internal_graphdef.node.add().CopyFrom(node)
        self._initialize_analysis_data()

    def append(self, node: Any) -> None:
        """Adds a copy of ``node`` (a NodeDef, ours or TensorFlow's) to the graph."""
        self._add_nodes([node], "append")

    def extend(self, node_list: Iterable[Any]) -> None:
        """Adds copies of the NodeDefs in ``node_list`` to the graph."""
        if _messages.is_node_def(node_list) or not isinstance(node_list, Iterable):
            raise UsageError(f"extend: expected a list of NodeDefs, got {type(node_list).__name__} (use append)")
        self._add_nodes(list(node_list), "extend")

    def add(self, nodes: Any) -> None:
        """Adds one NodeDef or a list of them (copies) to the graph."""
        self._add_nodes(_messages.as_items(nodes), "add")

    # ------------------------------------------------------------------------------- edges
    def connect(self, who: Any, to_whom: Any, error_if_connected: bool = False) -> None:
        """Makes node ``who`` an input of node ``to_whom`` (appended, unless it already is one)."""
        source, target = self._resolve([who], "connect"), self._resolve([to_whom], "connect")
        node = self.node_map[target[0]]
        if source[0] in node.input:
            if error_if_connected:
                raise InvalidGraphError(f"connect: '{source[0]}' is already an input of '{target[0]}'")
            return
        inputs = _control_last([*node.input, source[0]])
        _set_inputs(node, inputs)
        self._initialize_analysis_data()

    def disconnect(self, who: Any, of_whom: Any, error_if_not_connected: bool = False) -> None:
        """Removes node ``who`` (data input ``who`` or control input ``^who``) from the inputs of ``of_whom``."""
        source, target = self._resolve([who], "disconnect"), self._resolve([of_whom], "disconnect")
        node = self.node_map[target[0]]
        kept = [inp for inp in node.input if inp not in (source[0], "^" + source[0])]
        if len(kept) == len(node.input):
            if error_if_not_connected:
                raise InvalidGraphError(f"disconnect: '{source[0]}' is not an input of '{target[0]}'")
            return
        _set_inputs(node, kept)
        self._initialize_analysis_data()

    def sort(self, name: Any, inputs: object, error_if_not_found: bool = True) -> None:
        """Moves ``inputs`` (nodes or names) to the front of node ``name``'s inputs, in the order given;
        its other inputs follow in their order. An input that ``name`` does not have is an error,
        unless ``error_if_not_found=False`` (then it is skipped)."""
        (target,) = self._resolve([name], "sort")
        node = self.node_map[target]
        wanted = [_messages.node_name_of(item, "sort: inputs") for item in _messages.as_items(inputs)]
        missing = [w for w in wanted if w not in node.input]
        if missing and error_if_not_found:
            raise InvalidGraphError(f"sort: '{missing[0]}' is not an input of '{target}' (its inputs: "
                                    f"{', '.join(node.input) or 'none'})")
        front = [w for w in wanted if w in node.input]
        rest = list(node.input)
        for item in front:
            rest.remove(item)
        _set_inputs(node, _control_last(front + rest))
        self._initialize_analysis_data()
