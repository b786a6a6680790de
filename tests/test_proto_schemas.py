"""Our proto schemas: generated modules are fresh, and every message matches TensorFlow's field for field."""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import subprocess
import sys

import pytest
from google.protobuf import descriptor, descriptor_pb2

import graphsurgeon._proto

REPO = pathlib.Path(__file__).resolve().parent.parent
PROTO_DIR = pathlib.Path(graphsurgeon._proto.__file__).parent
OUR_PACKAGE = "graphsurgeon.tf"


def _our_modules() -> list:
    return [importlib.import_module(f"graphsurgeon._proto.{p.stem}") for p in sorted(PROTO_DIR.glob("*_pb2.py"))]


def test_generated_modules_are_fresh() -> None:
    # generate.py runs its pinned protoc from a virtualenv of its own, made on first use (pip).
    result = subprocess.run([sys.executable, str(REPO / "proto" / "generate.py"), "--check"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"stale generated protos: {result.stdout}{result.stderr}"


def test_every_schema_has_a_generated_module() -> None:
    schemas = {p.stem for p in (REPO / "proto" / "graphsurgeon" / "_proto").glob("*.proto")}
    modules = {p.stem[: -len("_pb2")] for p in PROTO_DIR.glob("*_pb2.py")}
    assert schemas == modules, f"schemas without modules: {schemas - modules}; modules without: {modules - schemas}"


def test_private_package_and_paths() -> None:
    for module in _our_modules():
        assert module.DESCRIPTOR.package == OUR_PACKAGE, module.__name__
        assert module.DESCRIPTOR.name.startswith("graphsurgeon/_proto/"), module.DESCRIPTOR.name


def _normalized(proto: descriptor_pb2.DescriptorProto) -> bytes:
    """A message descriptor with the package spelled as TensorFlow's and nested types sorted by name.

    The order of nested declarations (protoc puts a map's entry type where the map field is) does
    not reach the wire or text format, so it is the one difference the comparison forgives.
    """
    copy = descriptor_pb2.DescriptorProto()
    copy.CopyFrom(proto)

    def fix(msg: descriptor_pb2.DescriptorProto) -> None:
        for field in msg.field:
            if field.type_name.startswith(f".{OUR_PACKAGE}."):
                field.type_name = ".tensorflow." + field.type_name[len(OUR_PACKAGE) + 2:]
        nested = sorted(msg.nested_type, key=lambda n: n.name)
        for item in nested:
            fix(item)
        copied = [type(n)() for n in nested]
        for dst, src in zip(copied, nested):
            dst.CopyFrom(src)
        del msg.nested_type[:]
        msg.nested_type.extend(copied)

    fix(copy)
    return copy.SerializeToString(deterministic=True)


def _walk_fields(ours: descriptor.Descriptor, theirs: descriptor.Descriptor, where: str) -> list[str]:
    """Differences between two live message descriptors: name, number, type, label, packed, map, oneof."""
    problems = []
    our_fields = {f.number: f for f in ours.fields}
    their_fields = {f.number: f for f in theirs.fields}
    if set(our_fields) != set(their_fields):
        problems.append(f"{where}: field numbers {sorted(our_fields)} != {sorted(their_fields)}")
    for number in set(our_fields) & set(their_fields):
        a, b = our_fields[number], their_fields[number]
        for attr in ("name", "type", "is_repeated", "is_required", "is_packed", "has_presence", "json_name"):
            if getattr(a, attr) != getattr(b, attr):
                problems.append(f"{where}.{a.name}: {attr} {getattr(a, attr)!r} != {getattr(b, attr)!r}")
        a_map = bool(a.message_type and a.message_type.GetOptions().map_entry)
        b_map = bool(b.message_type and b.message_type.GetOptions().map_entry)
        if a_map != b_map:
            problems.append(f"{where}.{a.name}: map {a_map} != {b_map}")
        a_oneof = a.containing_oneof.name if a.containing_oneof else None
        b_oneof = b.containing_oneof.name if b.containing_oneof else None
        if a_oneof != b_oneof:
            problems.append(f"{where}.{a.name}: oneof {a_oneof} != {b_oneof}")
        if a.message_type and b.message_type:
            a_name = a.message_type.full_name.removeprefix(OUR_PACKAGE + ".")
            b_name = b.message_type.full_name.removeprefix("tensorflow.")
            if a_name != b_name:
                problems.append(f"{where}.{a.name}: message type {a_name} != {b_name}")
        if a.enum_type and b.enum_type:
            a_values = [(v.name, v.number) for v in a.enum_type.values]
            b_values = [(v.name, v.number) for v in b.enum_type.values]
            if a_values != b_values:
                problems.append(f"{where}.{a.name}: enum values differ")
    for a_nested in ours.nested_types:
        b_nested = theirs.nested_types_by_name.get(a_nested.name)
        if b_nested is None:
            problems.append(f"{where}: TensorFlow has no nested {a_nested.name}")
        else:
            problems.extend(_walk_fields(a_nested, b_nested, f"{where}.{a_nested.name}"))
    return problems


@pytest.mark.tf
def test_every_message_matches_tensorflow() -> None:
    sys.path.insert(0, str(REPO / "proto"))
    try:
        import import_from_tensorflow
    finally:
        sys.path.pop(0)
    for name in import_from_tensorflow.ROOT_MODULES:
        importlib.import_module(name)
    from google.protobuf import descriptor_pool

    pool = descriptor_pool.Default()
    problems: list[str] = []
    checked = 0
    for module in _our_modules():
        file_desc = module.DESCRIPTOR
        for msg in file_desc.message_types_by_name.values():
            their_name = "tensorflow." + msg.full_name.removeprefix(OUR_PACKAGE + ".")
            try:
                theirs = pool.FindMessageTypeByName(their_name)
            except KeyError:
                problems.append(f"{their_name}: not in TensorFlow's descriptor pool")
                continue
            problems.extend(_walk_fields(msg, theirs, their_name))
            a, b = descriptor_pb2.DescriptorProto(), descriptor_pb2.DescriptorProto()
            msg.CopyToProto(a)
            theirs.CopyToProto(b)
            if _normalized(a) != _normalized(b):
                problems.append(f"{their_name}: descriptor differs from TensorFlow's")
            checked += 1
        for enum in file_desc.enum_types_by_name.values():
            theirs_enum = pool.FindEnumTypeByName("tensorflow." + enum.full_name.removeprefix(OUR_PACKAGE + "."))
            a, b = descriptor_pb2.EnumDescriptorProto(), descriptor_pb2.EnumDescriptorProto()
            enum.CopyToProto(a)
            theirs_enum.CopyToProto(b)
            if a.SerializeToString(deterministic=True) != b.SerializeToString(deterministic=True):
                problems.append(f"{enum.full_name}: enum differs from TensorFlow's")
            checked += 1
    assert checked >= 60, f"only {checked} messages and enums compared"
    assert not problems, "\n".join(problems)
