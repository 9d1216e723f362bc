"""The basis head over encoder features, and the text -> phi scorer built from a basis directory."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from prefchat.basis.encoders import MiniLMEncoder, default_device
from prefchat.errors import PrefchatError


class StyleHead(nn.Module):
    """phi = W . standardise(features) + b: a J-dim linear head (the paper's head is linear too).

    The standardisation statistics are buffers, saved with the weights, so scoring needs nothing else."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("scale", torch.ones(n_in))
        self.linear = nn.Linear(n_in, n_out)

    def set_standardisation(self, feats: np.ndarray) -> None:
        f = torch.as_tensor(feats, dtype=torch.float32)
        self.mean.copy_(f.mean(0))
        self.scale.copy_(f.std(0).clamp(min=1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((x - self.mean) / self.scale)


class Scorer:
    """phi(x, y) for texts, with the basis's encoder and head. Build with Basis.scorer()."""

    def __init__(self, encoder, head: StyleHead, device: str) -> None:
        self.encoder = encoder
        self.head = head.to(device).eval()
        self.device = device

    def warm(self) -> None:
        """Load the encoder now and run one tiny forward, so the first real scoring pays for neither
        (the chat calls this during start-up; `ask` while the first reply is generated)."""
        self.phi(["Warming up."])

    @torch.inference_mode()
    def phi(self, responses: list[str], prompts: list[str] | None = None) -> np.ndarray:
        """One row per response. Identical responses are scored once and share the row, so they tie
        exactly (a matrix product can round identical rows differently by position)."""
        responses = list(responses)
        uniq = list(dict.fromkeys(responses))
        feats = self.encoder.features(uniq)
        phi = self.head(torch.as_tensor(feats, device=self.device)).double().cpu().numpy()
        where = {r: i for i, r in enumerate(uniq)}
        return phi[[where[r] for r in responses]]

    def pair_diffs(self, prompts: list[str], a: list[str], b: list[str]) -> np.ndarray:
        phi = self.phi(list(a) + list(b), list(prompts) * 2)
        return phi[: len(a)] - phi[len(a):]

    def rewards(self, lam: np.ndarray, responses: list[str], prompt: str = "") -> np.ndarray:
        return self.phi(responses, [prompt] * len(responses)) @ np.asarray(lam, dtype=float)


def load_head(path, n_in: int, n_out: int) -> StyleHead:
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
        head = StyleHead(n_in, n_out)
        head.load_state_dict(state)
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise PrefchatError(f"{path}: head weights unreadable ({exc}); rerun `prefchat train`") from None
    return head


def load_scorer(basis, device: str | None = None, fast: bool | None = None) -> Scorer:
    """fast (default on CPU): the packed bf16 MiniLM forward, same phi within bf16 rounding
    (prefchat.basis.minilm_fast); PREFCHAT_FAST_SCORER=0 or fast=False keeps the reference
    transformers fp32 path."""
    enc_meta = basis.meta["encoder"]
    if enc_meta.get("kind") == "causal-lm":
        # A transformers backbone basis (prefchat.basis.backbone_scorer); same Scorer interface.
        from prefchat.basis.backbone_scorer import load_scorer as load_backbone_scorer

        return load_backbone_scorer(basis, device=device)
    if enc_meta.get("kind") != "minilm":
        raise PrefchatError(f"{basis.path}/basis.json: encoder kind {enc_meta.get('kind')!r} is not supported here")
    device = device or default_device()
    if fast is None:
        fast = os.environ.get("PREFCHAT_FAST_SCORER", "1") != "0"
    encoder = MiniLMEncoder(device=device, max_length=int(enc_meta.get("max_length", 256)), fast=fast)
    head = load_head(basis.path / "head.safetensors", int(basis.meta["input"]["n_features"]), basis.dims)
    return Scorer(encoder, head, device)
