"""prefchat.llm.gguf_info: the standard-library GGUF header reader that `prefchat doctor` and the
benchmarks use to say what a file's matrices are stored as. Checked against the `gguf` package's own
reader on files in every weight recipe of the random-weight builder, on damaged files, and through
`prefchat doctor` as a user runs it."""

from __future__ import annotations

import os
import platform
import struct
import subprocess
import sys

import pytest

from prefchat.bench.synthetic import QUANTS, TINY, write_random_gguf
from prefchat.llm.gguf_info import best_of_n_note, matrix_types


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("gguf_info")
    return {q: write_random_gguf(d / f"tiny-{q}.gguf", TINY, quant=q) for q in QUANTS}


def gguf_package_counts(path) -> dict[str, int]:
    import gguf

    counts: dict[str, int] = {}
    for t in gguf.GGUFReader(str(path)).tensors:
        if len(t.shape) == 2:
            counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
    return counts


def test_counts_match_the_gguf_package_for_every_recipe(files):
    for quant, path in files.items():
        got = matrix_types(path)
        assert got == gguf_package_counts(path), quant
        main, output = QUANTS[quant][:2]
        assert next(iter(got)) == main  # most common first: the recipe's block matrices
        assert output in got


def test_damaged_files_are_a_value_error(files, tmp_path):
    data = files["q8_0"].read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[:600])  # inside the metadata
    with pytest.raises(ValueError, match="ends early"):
        matrix_types(cut)
    other = tmp_path / "not.gguf"
    other.write_bytes(b"PK\x03\x04" + data[4:])
    with pytest.raises(ValueError, match="not a GGUF"):
        matrix_types(other)
    huge = tmp_path / "huge.gguf"  # a tensor count no model has: refused, not looped over
    huge.write_bytes(data[:8] + struct.pack("<Q", 1 << 40) + data[16:])
    with pytest.raises(ValueError, match="claims"):
        matrix_types(huge)


def test_the_note_names_slow_batching_types_on_x86_only():
    assert "Q8_0" in best_of_n_note({"Q8_0": 169}, "x86_64")
    assert "Q5_0" in best_of_n_note({"Q5_0": 168, "Q8_0": 1}, "AMD64")
    assert best_of_n_note({"F16": 169}, "x86_64") is None
    assert best_of_n_note({"Q4_0": 169}, "x86_64") is None
    assert best_of_n_note({"Q8_0": 169}, "aarch64") is None  # llama.cpp repacks Q8_0 on ARM
    assert best_of_n_note({}, "x86_64") is None


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="the note is for x86")
def test_doctor_says_it_for_a_q8_0_model_with_best_of_n(files, tmp_path):
    def doctor(model, n):
        env = {**os.environ, "PREFCHAT_HOME": str(tmp_path / "home"), "PREFCHAT_CONFIG": str(tmp_path / "c.toml"),
               "PREFCHAT_BACKEND": "llama", "PREFCHAT_MODEL": str(model), "PREFCHAT_N": str(n)}
        r = subprocess.run([sys.executable, "-m", "prefchat", "doctor"], capture_output=True, text=True,
                           env=env, timeout=120)
        return [ln for ln in r.stdout.splitlines() if "best-of-N" in ln]

    lines = doctor(files["q8_0"], 4)
    assert len(lines) == 1 and "mostly Q8_0" in lines[0] and "F16" in lines[0]
    assert doctor(files["f16"], 4) == []
    assert doctor(files["q8_0"], 1) == []  # one candidate: nothing is batched
