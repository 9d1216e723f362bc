"""What a GGUF file's weight matrices are stored as, read from its header with the standard library.

Why it matters: the weight type decides which llama.cpp CPU kernel a step with several rows runs, and
every prefchat reply is such a step (best-of-N decodes its candidates together). On x86, Q8_0 and Q5_0
matrices go to llamafile's tinyBLAS, which is slower per row than one-row decoding, so best-of-4
costs about 3x one reply; F16 and repacked Q4_0 batch cheaply, about 1.5x (BENCHMARKS.md, "llama.cpp
best-of-4 on 2 cores" and "F16 weights"). `prefchat doctor` says so, and the benchmarks record the
types next to their figures. The `gguf` package reads this too, but it is a test extra.

The header (GGUF v2 and v3, little-endian): magic "GGUF", u32 version, u64 tensor count, u64 metadata
count; each metadata entry is a string key, a u32 value type and the value (an array: u32 element
type, u64 length, elements); then per tensor a string name, u32 dimension count, that many u64
dimensions, u32 ggml type and u64 data offset. A string is a u64 byte length and the bytes."""

from __future__ import annotations

import os
import platform
import struct

# ggml type ids (ggml.h) of the types a published GGUF uses.
GGML_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
              10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
              17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
              23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16"}
# Metadata value types: byte size of the fixed-size ones; 8 = string, 9 = array.
_SCALAR_SIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
# Far beyond any real model; a header claiming more is damaged (or hostile), not a bigger model.
_MAX_COUNT = 1 << 24
# Types whose several-row products were measured slow on x86 (no repack, tinyBLAS).
SLOW_BATCH_TYPES = ("Q8_0", "Q5_0")


class _Header:
    def __init__(self, fh) -> None:
        self.fh = fh

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        data = self.fh.read(size)
        if len(data) != size:
            raise ValueError("the GGUF header ends early")
        return struct.unpack(fmt, data)[0]

    def count(self) -> int:
        n = self.take("<Q")
        if n > _MAX_COUNT:
            raise ValueError(f"the GGUF header claims {n} entries")
        return n

    def skip_string(self) -> None:
        self.fh.seek(self.count(), os.SEEK_CUR)

    def skip_value(self, kind: int) -> None:
        if kind in _SCALAR_SIZE:
            self.fh.seek(_SCALAR_SIZE[kind], os.SEEK_CUR)
        elif kind == _STRING:
            self.skip_string()
        elif kind == _ARRAY:
            inner, n = self.take("<I"), self.count()
            if inner in _SCALAR_SIZE:
                self.fh.seek(n * _SCALAR_SIZE[inner], os.SEEK_CUR)
            else:
                for _ in range(n):  # e.g. the tokenizer's vocabulary: a string each
                    self.skip_value(inner)
        else:
            raise ValueError(f"unknown GGUF metadata type {kind}")


def matrix_types(path: str | os.PathLike) -> dict[str, int]:
    """{ggml type name: number of 2-D tensors of that type}, most common first. Raises ValueError
    (or OSError) for a file that is not a readable GGUF."""
    with open(path, "rb") as fh:
        h = _Header(fh)
        if fh.read(4) != b"GGUF":
            raise ValueError("not a GGUF file")
        if h.take("<I") not in (2, 3):
            raise ValueError("a GGUF version this reader does not know")
        n_tensors, n_meta = h.count(), h.count()
        for _ in range(n_meta):
            h.skip_string()
            h.skip_value(h.take("<I"))
        counts: dict[str, int] = {}
        for _ in range(n_tensors):
            h.skip_string()
            n_dims = h.take("<I")
            if n_dims > 8:
                raise ValueError(f"a GGUF tensor with {n_dims} dimensions")
            fh.seek(8 * n_dims, os.SEEK_CUR)
            kind = h.take("<I")
            h.take("<Q")
            if n_dims == 2:
                name = GGML_TYPES.get(kind, f"type {kind}")
                counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def is_x86(machine: str | None = None) -> bool:
    """This machine (or `machine`, as platform.machine() spells it) is 64-bit x86, where the
    several-row kernels were measured."""
    return (machine or platform.machine()).lower() in ("x86_64", "amd64")


def best_of_n_note(types: dict[str, int], machine: str | None = None) -> str | None:
    """One line for a file whose matrices are mostly of a type that batches slowly on this x86 CPU,
    else None. Only x86 was measured; on ARM llama.cpp repacks Q8_0 for a several-row kernel."""
    if not is_x86(machine) or not types:
        return None
    main = next(iter(types))
    if main not in SLOW_BATCH_TYPES:
        return None
    return (f"the model's weights are mostly {main}: on an x86 CPU llama.cpp batches those slowly, so best-of-4 "
            "costs about 3x one reply; an F16 or all-Q4_0 file costs about 1.5x (README, \"Which "
            "quantisation\")")
