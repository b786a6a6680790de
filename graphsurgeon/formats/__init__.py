"""Bytes <-> messages and arrays: the file formats graphsurgeon reads and writes."""
