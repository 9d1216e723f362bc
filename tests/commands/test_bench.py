"""`prefchat bench` end to end through the CLI, each subcommand at its smallest size: the output has
the documented structure and the figures are sane (positive times, token counts that follow from the
arguments, ratios that follow from the medians). These check the measuring code, not the speed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.backbone.helpers import write_tiny_qwen
from tests.llm.tiny_models import repacks_q4_0, write_tiny_gguf

ROOT = Path(__file__).resolve().parents[2]
# The measuring code, one module per benchmark, and the model builders.
BODIES = sorted(f"prefchat.bench.{p.stem}" for p in (ROOT / "prefchat" / "bench").glob("*.py")
                if p.stem != "__init__")


def bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "prefchat", "bench", *args], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    return r


def test_bench_help_loads_no_benchmark_body():
    """`prefchat bench --help` imports the typer signatures (commands/bench.py), none of the measuring
    code in prefchat/bench/ and no heavy library: each command imports its own module when it runs."""
    code = ("import contextlib, io, json, sys\nsys.argv = ['prefchat', 'bench', '--help']\n"
            "from prefchat.cli import main\nout = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n    try:\n        main()\n    except SystemExit:\n        pass\n"
            "print(json.dumps([out.getvalue(), sorted(sys.modules)]))\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True,
                       cwd=ROOT)
    text, modules = json.loads(p.stdout.strip().splitlines()[-1])
    assert "onboard-live" in text and "guard" in text and "prefchat.commands.bench" in modules
    assert len(BODIES) >= 8 and [m for m in BODIES if m in modules] == []
    assert [m for m in ("torch", "transformers", "llama_cpp", "openai", "textual") if m in modules] == []


def test_generate_best_of_n_on_a_random_gguf(isolated_locations):
    r = bench("generate", "--make-tiny", "tiny", "-n", "2", "--max-tokens", "4", "--repeats", "1",
              "--threads", "1", "--json")
    out = json.loads(r.stdout)
    # the model is built once into PREFCHAT_CACHE/bench, not into the user's cache
    assert Path(out["model"]).parent == isolated_locations["cache"] / "bench" and Path(out["model"]).is_file()
    assert out["n"] == 2 and out["backend"] == "llama" and isinstance(out["batched"], bool)
    assert out["single"]["tokens"] == 4 and out["best_of_n"]["tokens"] == 8  # end-of-turn is ignored
    for k in ("single", "best_of_n"):
        assert out[k]["median_s"] > 0 and len(out[k]["runs_s"]) == 1
        assert out[k]["tok_per_s"] == pytest.approx(out[k]["tokens"] / out[k]["median_s"])
    assert out["ratio"] == pytest.approx(out["best_of_n"]["median_s"] / out["single"]["median_s"])
    assert out["rerank"] is None and out["load_s"] >= 0 and len(out["loadavg_1min"]) == 2


def test_generate_quant_picks_the_weight_recipe(isolated_locations):
    """--quant builds (and names) a GGUF of that recipe; an unknown one is a one-line error."""
    import gguf

    r = bench("generate", "--make-tiny", "tiny", "--quant", "q4_0", "-n", "2", "--max-tokens", "2",
              "--repeats", "1", "--threads", "1", "--json")
    out = json.loads(r.stdout)
    assert out["quant"] == "q4_0" and Path(out["model"]).name == "random-tiny-q4_0.gguf"
    types = {t.name: t.tensor_type.name for t in gguf.GGUFReader(out["model"]).tensors}
    assert types["blk.0.ffn_up.weight"] == "Q4_0" and types["token_embd.weight"] == "Q8_0"
    assert out["weights"] == {"Q4_0": 14, "Q8_0": 1}  # the tiny shape: 2 layers x 7 matrices
    if repacks_q4_0():
        assert out["repacked"] == 14  # llama.cpp repacks the Q4_0 matrices, not the Q8_0 output
    bad = subprocess.run([sys.executable, "-m", "prefchat", "bench", "generate", "--make-tiny", "tiny",
                          "--quant", "q3"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert bad.returncode != 0 and "--quant must be one of" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_llama_step_times_each_row_count_against_one_row(isolated_locations):
    r = bench("llama-step", "--make-tiny", "tiny", "--quant", "q4_0-pure", "--rows", "2,1",
              "--steps", "3", "--repeats", "2", "--threads", "1", "--json")
    out = json.loads(r.stdout)
    assert out["weights"] == {"Q4_0": 15} and out["quant"] == "q4_0-pure"
    if repacks_q4_0():
        assert out["repacked"] == 15  # the tied output gets a repacked copy too
    assert list(out["rows"]) == ["1", "2"]  # sorted; the first is the base of the ratios
    one, two = out["rows"]["1"], out["rows"]["2"]
    assert one["wall_ratio"] == 1 and one["cpu_ratio"] == 1
    assert two["wall_ratio"] == pytest.approx(two["wall_ms"] / one["wall_ms"])
    assert two["cpu_ratio"] == pytest.approx(two["cpu_ms"] / one["cpu_ms"])
    for row in (one, two):
        assert row["wall_ms"] > 0 and row["sampling_ms"] > 0 and len(row["runs_wall_ms"]) == 2
    bad = subprocess.run([sys.executable, "-m", "prefchat", "bench", "llama-step", "--make-tiny",
                          "tiny", "--rows", "1,x"], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    assert bad.returncode != 0 and "--rows must be" in bad.stderr and "Traceback" not in bad.stderr


def test_llama_step_prefill_times_one_prompt_decode(isolated_locations):
    """--prefill N times an N-token prompt decode apart from the steps, and the JSON says whether
    the loaded llama.cpp runs multi-row products in llamafile's tinyBLAS (what the step costs hang on)."""
    import llama_cpp

    r = bench("llama-step", "--make-tiny", "tiny", "--quant", "q4_0-pure", "--rows", "1",
              "--steps", "2", "--repeats", "3", "--threads", "1", "--prefill", "300", "--json")
    out = json.loads(r.stdout)
    pf = out["prefill"]
    assert pf["tokens"] == 300 and len(pf["runs_wall_ms"]) == 3
    assert pf["wall_ms"] > 0 and pf["cpu_ms"] > 0
    assert pf["tokens_per_s"] == pytest.approx(300 / pf["wall_ms"] * 1e3)
    # the library's own word, as `prefchat doctor` and BENCHMARKS.md read it
    assert out["llamafile"] is ("LLAMAFILE = 1" in llama_cpp.llama_print_system_info().decode())
    off = json.loads(bench("llama-step", "--make-tiny", "tiny", "--quant", "q4_0-pure", "--rows", "1",
                           "--steps", "2", "--repeats", "1", "--threads", "1", "--json").stdout)
    assert off["prefill"] is None
    bad = subprocess.run([sys.executable, "-m", "prefchat", "bench", "llama-step", "--make-tiny",
                          "tiny", "--prefill", "5000"], capture_output=True, text=True, timeout=120,
                         cwd=ROOT)
    assert bad.returncode != 0 and "--prefill must be" in bad.stderr and "Traceback" not in bad.stderr
    # the tiny model was trained on 1,024 tokens: said before anything is timed, in one line
    long = subprocess.run([sys.executable, "-m", "prefchat", "bench", "llama-step", "--make-tiny",
                           "tiny", "--quant", "q4_0-pure", "--prefill", "1500"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert long.returncode != 0 and "Traceback" not in long.stderr
    assert "--prefill 1500 is longer than this model's context (1024 tokens)" in long.stderr


def test_onboard_time_to_first_question():
    r = bench("onboard", "--runs", "1", "--plain")
    m = re.search(r"onboard --plain \(to the first question\): command -> first screen, median of 1: (\d+) ms", r.stdout)
    assert m, r.stdout
    assert 0 < int(m.group(1)) < 60_000


def test_chat_time_to_first_paint(tmp_path):
    model = write_tiny_gguf(tmp_path / "tiny.gguf")
    r = bench("chat", "--runs", "1", "--model", str(model))
    m = re.search(r"prefchat chat \(to the first paint\): command -> first screen, median of 1: (\d+) ms", r.stdout)
    assert m, r.stdout
    assert 0 < int(m.group(1)) < 60_000


@pytest.mark.slow  # loads MiniLM in a subprocess (~30 s on 2 shared cores)
def test_basis_minilm_scoring_latency():
    out = json.loads(bench("basis", "--runs", "2", "--device", "cpu", "--json").stdout)
    assert set(out) == {"cpu_8x200_ms", "phi_corr_vs_fp32"}  # exactly the keys issue 16 names
    assert out["cpu_8x200_ms"] > 0 and out["phi_corr_vs_fp32"] >= 0.999


@pytest.mark.slow  # trains and scores a backbone in a subprocess (~30 s on 2 shared cores)
def test_basis_backbone_training_and_scoring_throughput(tmp_path):
    model = write_tiny_qwen(tmp_path / "tiny-qwen")
    out = json.loads(bench("basis", "--backbone", str(model), "--mode", "frozen", "--device", "cpu", "--steps", "1",
                           "--train-pairs", "2", "--train-tokens", "8", "--json").stdout)
    assert out["mode"] == "frozen" and out["dtype"] == "float32" and out["backbone"] == str(model)
    assert out["trainable_params"] == 32 * 8 + 8  # frozen: only the head (hidden 32 -> 8 dims) trains
    t = out["train"]
    assert t["steps"] == 1 and t["pairs_per_step"] == 2 and t["tokens_per_response"] == 8
    assert t["pairs_per_s"] == pytest.approx(2 / t["seconds"]) and t["tokens_per_s"] == pytest.approx(2 * 2 * 8 / t["seconds"])
    assert out["score"]["responses_per_s"] > 0 and out["latency_8x256_ms"]["median"] > 0


@pytest.mark.slow  # trains the engine on the synthetic problem (200 epochs)
def test_engine_on_the_synthetic_problem():
    out = json.loads(bench("engine", "--users", "5", "--steps", "3", "--json", timeout=900).stdout)
    assert out["answers"] == [5, 10, 20, 40]
    active = {int(k): v for k, v in out["auc"]["active"].items()}
    assert set(active) == {5, 10, 20, 40} and all(0.5 < v <= 1 for v in active.values())
    assert active[40] > active[5]  # more answers, a better fit
    assert out["auc"]["oracle"] >= max(active.values()) - 0.02
    angles = out["principal_angles_deg"]  # one per dimension of the true basis
    assert 1 <= len(angles) <= 8 and angles == sorted(angles) and all(0 <= a < 45 for a in angles), angles
    assert out["elbow"] >= 1 and len(out["spectrum"]) == 10
    assert out["train_seconds"] > 0 and out["step_ms_median"] > 0 and out["criterion"] == "fisher"


def test_onboard_live_times_the_wait_left_when_writing_overlaps_reading(isolated_locations):
    """--read-s: the pair is written while the person reads; what is timed is the wait left after it,
    which for a tiny model and 2 s of reading is far below a live question's own time."""
    r = bench("onboard-live", "--make-tiny", "tiny", "--quant", "f16", "--max-tokens", "4", "--repeats", "2",
              "--threads", "1", "--read-s", "2", "--json")
    out = json.loads(r.stdout)
    assert Path(out["model"]).name == "random-tiny-f16.gguf"  # --quant picks the recipe and the file
    ov = out["overlap"]
    assert ov["read_s"] == 2 and len(ov["waits_s"]) == 2 and len(ov["attempts"]) == 2
    # 2 s of reading hides all of a tiny model's live question: the waits are a fraction of its time
    assert max(ov["waits_s"]) <= 0.25 * min(out["live"]["runs_s"]) and ov["wait_median_s"] < out["live"]["median_s"]
    assert out["weights"] == {"F16": out["weights"]["F16"]} and out["weights"]["F16"] > 0
    assert 0 <= ov["ratio_worst"] < max(out["live"]["runs_s"]) / out["best_of_2"]["median_s"]
    assert "written while the person reads for 1 s" in bench(
        "onboard-live", "--make-tiny", "tiny", "--quant", "f16", "--max-tokens", "2", "--repeats", "1",
        "--threads", "1", "--read-s", "1").stdout
