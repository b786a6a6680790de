"""Tensor-bundle (checkpoint V2) reader: .index SSTable -> entries; lazy, memory-mapped data.

PLACEHOLDER: the interface below is fixed; the implementation lands with the checkpoint issue.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """What the index says about one tensor, known without reading its data."""

    name: str
    dtype: int  # a DataType enum value (types_pb2.DT_FLOAT, ...)
    shape: tuple[int, ...]
    nbytes: int  # bytes in the data file(s) (for strings: the stored encoding's size)
    num_slices: int = 0  # >0 for a partitioned tensor reassembled from slices


class Checkpoint(Mapping[str, np.ndarray]):
    """A read-only mapping tensor name -> numpy array, read lazily from a tensor bundle."""

    prefix: str

    def info(self, name: str) -> TensorInfo:
        raise NotImplementedError

    def __getitem__(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def __iter__(self):  # noqa: ANN204
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


def load_checkpoint(path: str | os.PathLike[str], verify: bool = True) -> Checkpoint:
    raise NotImplementedError
