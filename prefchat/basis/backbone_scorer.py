"""Saving and scoring a causal-LM basis: the trained backbone weights and the text -> phi scorer.

A backbone basis directory has the MiniLM one's files (basis.json, head.safetensors, pool.npz, all
written by prefchat.basis.write) plus the trained backbone weights: `lora.safetensors` (adapter A/B
matrices, merged into the base at load time, so scoring does not need peft) or `backbone/` (full
fine-tuning)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from prefchat.basis.backbone_capture import CAPTURES, CapturedScorer
from prefchat.basis.encoders import default_device
from prefchat.errors import PrefchatError
from prefchat.fileio import file_sha256
from prefchat.paths import ensure_dir
from prefchat.reward.nets import BackboneReward, TokenizedResponses, load_backbone


def base_identity(name: str) -> dict:
    """The backbone as basis.json names it: a hub id, or an absolute local path with its weights' hash."""
    local = Path(name).expanduser()
    if local.exists():
        files = sorted(local.glob("*.safetensors"))
        return {"id": str(local.resolve()),
                "base_sha256": hashlib.sha256("".join(file_sha256(f) for f in files).encode()).hexdigest()}
    return {"id": name, "base_sha256": None}


def save_trained(model: BackboneReward, tokenizer, out: Path, identity: dict) -> tuple[dict, dict]:
    """Write the trained backbone weights (LoRA deltas or the full model) into out; return the head's
    state dict (for prefchat.basis.write) and the identity with the weights' sha256, which the
    fingerprint then covers."""
    from safetensors.torch import save_file

    ensure_dir(out, mode=0o755)
    head = {f"linear.{k}": v.detach().float().cpu().contiguous() for k, v in model.head.state_dict().items()}
    ident = dict(identity)
    ident["mode"] = model.mode
    if model.mode == "lora":
        deltas = model.lora_deltas()
        save_file(deltas, str(out / "lora.safetensors"))
        ident["weights"] = "lora.safetensors"
        ident["weights_sha256"] = file_sha256(out / "lora.safetensors")
        ident["lora"] = model.lora
    elif model.mode == "full":
        folder = out / "backbone"
        model.base.save_pretrained(folder, safe_serialization=True)
        tokenizer.save_pretrained(folder)
        ident["weights"] = "backbone/"
        ident["weights_sha256"] = hashlib.sha256("".join(
            file_sha256(f) for f in sorted(folder.glob("*.safetensors"))).encode()).hexdigest()
    return head, ident


# Scoring with captured shape buckets (prefchat.basis.backbone_capture): "graph", "compile" or "off".
# Off unless asked for: the GPU speed-up is not measured yet (BENCHMARKS.md), and on a CPU padding to a
# bucket only adds work.
CAPTURE_ENV = "PREFCHAT_BACKBONE_CAPTURE"


class BackboneScorer:
    """phi(x, y) with a trained causal-LM basis; the same interface as prefchat.basis.scorer.Scorer.

    capture: None/"off" scores eagerly as the model stands; "graph"/"compile" pad to fixed shape
    buckets and replay captured CUDA graphs (see backbone_capture; `captured.path` says what ran)."""

    def __init__(self, tokenizer, model: BackboneReward, device: str, max_length: int,
                 capture: str | None = None) -> None:
        self.tokenizer = tokenizer
        self.model = model.to(device).eval()
        self.device = device
        self.max_length = max_length
        self.captured = None
        if capture and capture != "off":
            self.captured = CapturedScorer(self.model, int(tokenizer.pad_token_id), capture=capture)

    def phi(self, responses: list[str], prompts: list[str] | None = None) -> np.ndarray:
        import torch

        prompts = list(prompts) if prompts is not None else [""] * len(responses)
        inputs = TokenizedResponses(self.tokenizer, prompts, list(responses), self.max_length)
        if self.captured is not None:
            return self.captured.phi(inputs.ids)
        with torch.inference_mode():
            return self.model(inputs[np.arange(len(inputs))]).double().cpu().numpy()

    def pair_diffs(self, prompts: list[str], a: list[str], b: list[str]) -> np.ndarray:
        phi = self.phi(list(a) + list(b), list(prompts) * 2)
        return phi[: len(a)] - phi[len(a):]

    def rewards(self, lam: np.ndarray, responses: list[str], prompt: str = "") -> np.ndarray:
        return self.phi(responses, [prompt] * len(responses)) @ np.asarray(lam, dtype=float)


def load_scorer(basis, device: str | None = None, capture: str | None = None) -> BackboneScorer:
    """The scorer of a basis directory whose encoder kind is "causal-lm" (bf16 on a GPU). capture:
    see BackboneScorer; None reads $PREFCHAT_BACKBONE_CAPTURE (graph, compile or off; default off)."""
    import torch
    from safetensors.torch import load_file

    enc = basis.meta["encoder"]
    device = device or default_device()
    dtype = "bfloat16" if device.startswith("cuda") else "float32"
    mode = enc.get("mode", "frozen")
    src = str(basis.path / "backbone") if mode == "full" else enc["id"]
    tok, base = load_backbone(src, dtype=dtype)
    if mode == "lora":
        f = basis.path / enc.get("weights", "lora.safetensors")
        try:
            deltas = load_file(str(f))
        except Exception as exc:  # safetensors raises several types for a damaged file
            raise PrefchatError(f"{f}: LoRA weights unreadable ({exc}); rerun `prefchat train`") from None
        mods = dict(base.named_modules())
        with torch.no_grad():
            for path, delta in deltas.items():
                if path not in mods:
                    raise PrefchatError(f"{f}: layer {path!r} is not in backbone {enc['id']!r}; "
                                        "the basis was trained on another model")
                w = mods[path].weight
                w.add_(delta.to(w.dtype))
    model = BackboneReward(base, basis.dims, mode="frozen")
    try:
        state = load_file(str(basis.path / "head.safetensors"))
        model.head.load_state_dict({k.split("linear.", 1)[-1]: v for k, v in state.items()})
    except Exception as exc:
        raise PrefchatError(f"{basis.path}/head.safetensors: head weights unreadable ({exc}); "
                            "rerun `prefchat train`") from None
    capture = capture or os.environ.get(CAPTURE_ENV, "off").strip().lower() or "off"
    if capture not in CAPTURES:
        raise PrefchatError(f"${CAPTURE_ENV}={capture!r}: use graph, compile or off")
    return BackboneScorer(tok, model, device, int(enc.get("max_length", 512)), capture=capture)
