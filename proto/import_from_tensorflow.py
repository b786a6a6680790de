"""Write proto/graphsurgeon/_proto/*.proto from the descriptors TensorFlow ships.

Run once, by hand, with TensorFlow installed, when the schemas need refreshing:

    python proto/import_from_tensorflow.py

The TensorFlow wheel carries no ``.proto`` sources, but every ``*_pb2`` module embeds its
``FileDescriptorProto``; printing that back as ``.proto`` text keeps every field number, type,
label and option exactly TensorFlow's. Only two things change: the package (``tensorflow`` ->
``graphsurgeon.tf``) and the file path (``graphsurgeon/_proto/<name>.proto``), so that our
generated modules and TensorFlow's own can be imported in one process (docs/tf-formats.md §8).
The wire format and the text format do not carry either, so both encodings are identical.
The generated Python code is then made by ``python proto/generate.py``.
"""

from __future__ import annotations

import importlib
import pathlib

from google.protobuf import descriptor_pb2

ROOT_MODULES = [
    "tensorflow.core.framework.graph_pb2",
    "tensorflow.core.protobuf.meta_graph_pb2",
    "tensorflow.core.protobuf.saved_model_pb2",
    "tensorflow.core.protobuf.saved_object_graph_pb2",
    "tensorflow.core.protobuf.trackable_object_graph_pb2",
    "tensorflow.core.framework.variable_pb2",
    "tensorflow.core.protobuf.tensor_bundle_pb2",
    "tensorflow.core.framework.tensor_slice_pb2",
    "tensorflow.python.training.checkpoint_state_pb2",
    "tensorflow.core.protobuf.fingerprint_pb2",
    "tensorflow.core.util.saved_tensor_slice_pb2",
    # TensorBoard event files (formats/events.py): Event, and the Summary it references.
    "tensorflow.core.util.event_pb2",
]
OUT_DIR = pathlib.Path(__file__).parent / "graphsurgeon" / "_proto"
NEW_PACKAGE = "graphsurgeon.tf"

FDP = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    FDP.TYPE_DOUBLE: "double", FDP.TYPE_FLOAT: "float", FDP.TYPE_INT64: "int64",
    FDP.TYPE_UINT64: "uint64", FDP.TYPE_INT32: "int32", FDP.TYPE_FIXED64: "fixed64",
    FDP.TYPE_FIXED32: "fixed32", FDP.TYPE_BOOL: "bool", FDP.TYPE_STRING: "string",
    FDP.TYPE_BYTES: "bytes", FDP.TYPE_UINT32: "uint32", FDP.TYPE_SFIXED32: "sfixed32",
    FDP.TYPE_SFIXED64: "sfixed64", FDP.TYPE_SINT32: "sint32", FDP.TYPE_SINT64: "sint64",
}


def new_path(name: str) -> str:
    if name.startswith("google/protobuf/"):
        return name
    return f"graphsurgeon/_proto/{pathlib.Path(name).name}"


def type_name(name: str) -> str:
    # ".tensorflow.X" -> ".graphsurgeon.tf.X"; fully qualified names stay unambiguous.
    if name.startswith(".tensorflow."):
        return "." + NEW_PACKAGE + name[len(".tensorflow"):]
    return name


def field_type(field: descriptor_pb2.FieldDescriptorProto) -> str:
    if field.type in SCALARS:
        return SCALARS[field.type]
    return type_name(field.type_name)


def field_options(field: descriptor_pb2.FieldDescriptorProto) -> str:
    opts = []
    if field.options.HasField("packed"):
        opts.append(f"packed = {str(field.options.packed).lower()}")
    if field.options.deprecated:
        opts.append("deprecated = true")
    if field.HasField("json_name") and field.json_name != _default_json(field.name):
        opts.append(f'json_name = "{field.json_name}"')
    return f" [{', '.join(opts)}]" if opts else ""


def _default_json(name: str) -> str:
    parts = name.split("_")
    return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])


def print_enum(enum: descriptor_pb2.EnumDescriptorProto, indent: str, out: list[str]) -> None:
    out.append(f"{indent}enum {enum.name} {{")
    if enum.options.allow_alias:
        out.append(f"{indent}  option allow_alias = true;")
    if enum.options.deprecated:
        out.append(f"{indent}  option deprecated = true;")
    for value in enum.value:
        dep = " [deprecated = true]" if value.options.deprecated else ""
        out.append(f"{indent}  {value.name} = {value.number}{dep};")
    for rng in enum.reserved_range:
        out.append(f"{indent}  reserved {_range(rng.start, rng.end, inclusive=True)};")
    for name in enum.reserved_name:
        out.append(f'{indent}  reserved "{name}";')
    out.append(f"{indent}}}")


def _range(start: int, end: int, inclusive: bool = False) -> str:
    last = end if inclusive else end - 1
    if last >= 536870911:
        return f"{start} to max"
    return str(start) if start == last else f"{start} to {last}"


def print_message(msg: descriptor_pb2.DescriptorProto, indent: str, out: list[str], syntax: str) -> None:
    out.append(f"{indent}message {msg.name} {{")
    inner = indent + "  "
    if msg.options.deprecated:
        out.append(f"{inner}option deprecated = true;")
    maps = {n.name: n for n in msg.nested_type if n.options.map_entry}
    for enum in msg.enum_type:
        print_enum(enum, inner, out)
    for nested in msg.nested_type:
        if not nested.options.map_entry:
            print_message(nested, inner, out, syntax)
    oneof_fields: dict[int, list[descriptor_pb2.FieldDescriptorProto]] = {}
    for field in msg.field:
        if field.HasField("oneof_index") and not field.proto3_optional:
            oneof_fields.setdefault(field.oneof_index, []).append(field)
    printed_oneofs: set[int] = set()
    for field in msg.field:
        if field.HasField("oneof_index") and not field.proto3_optional:
            idx = field.oneof_index
            if idx in printed_oneofs:
                continue
            printed_oneofs.add(idx)
            out.append(f"{inner}oneof {msg.oneof_decl[idx].name} {{")
            for f in oneof_fields[idx]:
                out.append(f"{inner}  {field_type(f)} {f.name} = {f.number}{field_options(f)};")
            out.append(f"{inner}}}")
            continue
        entry_name = field.type_name.rsplit(".", 1)[-1]
        if field.label == FDP.LABEL_REPEATED and field.type == FDP.TYPE_MESSAGE and entry_name in maps:
            entry = maps[entry_name]
            key = field_type(entry.field[0])
            value = field_type(entry.field[1])
            out.append(f"{inner}map<{key}, {value}> {field.name} = {field.number}{field_options(field)};")
            continue
        if field.label == FDP.LABEL_REPEATED:
            label = "repeated "
        elif field.proto3_optional or syntax == "proto2" and field.label == FDP.LABEL_OPTIONAL:
            label = "optional "
        elif field.label == FDP.LABEL_REQUIRED:
            label = "required "
        else:
            label = ""
        out.append(f"{inner}{label}{field_type(field)} {field.name} = {field.number}{field_options(field)};")
    for rng in msg.reserved_range:
        out.append(f"{inner}reserved {_range(rng.start, rng.end)};")
    for name in msg.reserved_name:
        out.append(f'{inner}reserved "{name}";')
    out.append(f"{indent}}}")


def print_file(fdp: descriptor_pb2.FileDescriptorProto) -> str:
    syntax = fdp.syntax or "proto2"
    out = [
        f"// Generated by proto/import_from_tensorflow.py from TensorFlow's {fdp.name}.",
        "// Same fields, numbers and types as TensorFlow's; only the package and path differ.",
        "",
        f'syntax = "{syntax}";',
        "",
        f"package {NEW_PACKAGE};",
        "",
    ]
    for dep in fdp.dependency:
        out.append(f'import "{new_path(dep)}";')
    if fdp.dependency:
        out.append("")
    for enum in fdp.enum_type:
        print_enum(enum, "", out)
        out.append("")
    for msg in fdp.message_type:
        print_message(msg, "", out, syntax)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    seen: dict[str, object] = {}

    def walk(fd) -> None:  # noqa: ANN001 - a protobuf FileDescriptor
        if fd.name in seen:
            return
        seen[fd.name] = fd
        for dep in fd.dependencies:
            walk(dep)

    for module in ROOT_MODULES:
        walk(importlib.import_module(module).DESCRIPTOR)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, fd in sorted(seen.items()):
        if name.startswith("google/protobuf/"):
            continue
        fdp = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(fdp)
        target = OUT_DIR / pathlib.Path(name).name
        target.write_text(print_file(fdp))
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
