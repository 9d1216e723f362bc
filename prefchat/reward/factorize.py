"""Learning the shared basis phi and the users' vectors Lambda (PReF, Algorithm 1).

    P(user u prefers a over b) = sigmoid(lambda_u . (phi(x, y_a) - phi(x, y_b)))

1. The observed U x M outcome matrix, centred (a win is +1, a loss -1, a tie 0), is completed by
   soft-impute (Mazumder et al. 2010): missing cells are filled from the current low-rank estimate and
   the singular values are soft-thresholded, until the fill stops moving. Its rank-J SVD gives initial
   user factors and *pair* factors. One scalar, fitted by 1-D logistic regression, rescales them from
   the +-1 proxy to Bradley-Terry logits.
2. The basis model is fitted to the pair factors with an L2 loss: phi(a) - phi(b) ~ pair factor.
3. Basis and user vectors are refined jointly by maximising the Bradley-Terry likelihood with the
   penalty beta/2 ||lambda_u||^2 (the paper's regulariser is on lambda).

`svd_init=False` and `regularize=False` switch steps 1-2 and the penalty off, for the ablation.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from prefchat.reward.data import PairTable, Preferences
from prefchat.reward.elicit import fit_lambda


@dataclass
class CompletedMatrix:
    """Result of soft-impute: rank-J factors and the full singular-value spectrum."""

    user_factors: np.ndarray  # U x J
    pair_factors: np.ndarray  # M x J
    spectrum: np.ndarray  # all singular values of the completed matrix, descending
    n_iter: int


def soft_impute(y: np.ndarray, rank: int, shrink: float | None = None, max_iter: int = 200,
                tol: float = 1e-4) -> CompletedMatrix:
    """Complete a centred matrix with NaNs for missing cells.

    `shrink` is the soft threshold on singular values. The default is the spectral norm a pure-noise
    matrix of this shape and density would have (sqrt(p) * (sqrt(U) + sqrt(M)) for unit-variance cells),
    so that what survives the threshold is signal rather than sampling noise."""
    observed = ~np.isnan(y)
    if not observed.any():
        raise ValueError("soft_impute: the matrix has no observed entries")
    u_n, m_n = y.shape
    rank = min(rank, u_n, m_n)
    filled = np.where(observed, y, 0.0)
    if shrink is None:
        density = observed.mean()
        shrink = 0.5 * math.sqrt(density) * (math.sqrt(u_n) + math.sqrt(m_n))
    z = np.zeros_like(filled)
    it = 0
    for it in range(1, max_iter + 1):
        target = np.where(observed, filled, z)
        uu, s, vt = np.linalg.svd(target, full_matrices=False)
        s_shr = np.maximum(s[:rank] - shrink, 0.0)
        z_new = (uu[:, :rank] * s_shr) @ vt[:rank]
        change = np.linalg.norm(z_new - z) / max(np.linalg.norm(z), 1e-12)
        z = z_new
        if change < tol:
            break
    uu, s, vt = np.linalg.svd(np.where(observed, filled, z), full_matrices=False)
    root = np.sqrt(np.maximum(s[:rank] - shrink, 1e-6))
    return CompletedMatrix(uu[:, :rank] * root, vt[:rank].T * root, s, it)


def elbow(spectrum: np.ndarray, max_rank: int | None = None) -> int:
    """Rank at the elbow of a descending spectrum: the point farthest below the chord joining the
    first and last values (the 'kneedle' rule), as read off the paper's Figure 9."""
    s = np.asarray(spectrum, dtype=float)[: max_rank or len(spectrum)]
    if s.size < 3:
        return int(s.size)
    x = np.linspace(0.0, 1.0, s.size)
    yv = (s - s[-1]) / max(s[0] - s[-1], 1e-12)
    gap = (1.0 - x) - yv  # chord from (0,1) to (1,0) minus the curve
    # The knee is the first value after the drop, so its 0-based index counts the values before it.
    return max(int(np.argmax(gap)), 1)


def _fit_scale(z: np.ndarray, y: np.ndarray, iters: int = 50) -> float:
    """Scalar k maximising the Bernoulli likelihood of y under sigmoid(k * z) (Newton, 1-D)."""
    k = 1.0
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-k * z))
        grad = np.sum((p - y) * z)
        hess = np.sum(p * (1 - p) * z * z) + 1e-9
        step = grad / hess
        k -= step
        if abs(step) < 1e-8:
            break
    return float(max(k, 1e-3))


def bt_loss(logits: torch.Tensor, outcome: torch.Tensor) -> torch.Tensor:
    """Bradley-Terry negative log-likelihood; ties (0.5) are soft targets."""
    return nn.functional.binary_cross_entropy_with_logits(logits, outcome)


class PReF:
    """Learn a J-dimensional reward basis and per-user weights from pairwise preferences.

    Parameters are configuration only; learned state lives in attributes ending in '_'
    (`user_vectors_`, `spectrum_`, `history_`, `model_`), as in scikit-learn."""

    def __init__(self, n_components: int = 8, beta: float = 0.02, svd_init: bool = True,
                 regularize: bool = True, init_epochs: int = 300, epochs: int = 300, lr: float = 1e-2,
                 batch_size: int | None = None, weight_decay: float = 1e-4, seed: int = 0,
                 shrink: float | None = None, head_l2: float = 0.0, device: str = "cpu",
                 accumulate: int = 1, autocast: str | None = None, parallel: Any = None,
                 fused: bool | None = None) -> None:
        if n_components < 1:
            raise ValueError("n_components must be >= 1")
        if beta < 0:
            raise ValueError("beta must be >= 0")
        self.n_components = n_components
        self.beta = beta
        self.svd_init = svd_init
        self.regularize = regularize
        self.init_epochs = init_epochs
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.seed = seed
        self.shrink = shrink
        self.head_l2 = head_l2
        self.device = device
        # Large basis models (a transformers backbone): each minibatch is split into `accumulate`
        # micro-batches whose gradients add up before one optimiser step; `autocast` ("bfloat16")
        # runs the model's forward in that dtype; `parallel` (see prefchat.reward.distributed) gives
        # each process its shard of every minibatch and reduces the user vectors' gradients.
        if accumulate < 1:
            raise ValueError("accumulate must be >= 1")
        self.accumulate = accumulate
        self.autocast = autocast
        self.parallel = parallel
        # The optimisers' single-kernel (fused) update: None uses it on a GPU, where the per-tensor
        # launches of the default update over a backbone's hundreds of tensors cost real time.
        self.fused = fused

    # -- helpers -----------------------------------------------------------------------------------
    def _weight_penalty(self, model: nn.Module) -> torch.Tensor | float:
        """head_l2/2 * ||W||^2 over weight matrices: a ridge prior on the basis model, which matters
        when a wide feature vector meets a small corpus (biases and buffers are left alone)."""
        if not self.head_l2:
            return 0.0
        return 0.5 * self.head_l2 * sum((p ** 2).sum() for p in model.parameters() if p.ndim >= 2)

    def _micro(self, batch: torch.Tensor) -> list[tuple[torch.Tensor, float]]:
        """This process's micro-batches of a minibatch, each with the weight that makes the summed
        (and, across processes, averaged) gradient equal the full minibatch's mean-loss gradient.
        Single process, accumulate=1: [(batch, 1.0)], the plain full-batch step."""
        n = batch.shape[0]
        world = self.parallel.world_size if self.parallel is not None else 1
        local = batch if world == 1 else batch[self.parallel.rank::world]
        if local.shape[0] == 0:
            # Every process must run forward/backward the same number of times (DDP's collective
            # calls would hang otherwise); an empty shard runs one row with weight 0.
            return [(batch[:1], 0.0)]
        parts = [c for c in local.tensor_split(min(self.accumulate, local.shape[0])) if c.shape[0]]
        return [(c, c.shape[0] * world / n) for c in parts]

    @staticmethod
    def _sync_ctx(model: nn.Module, last: bool):
        """For a DDP model: no gradient all-reduce until the last micro-batch's backward."""
        return model.no_sync() if not last and hasattr(model, "no_sync") else contextlib.nullcontext()

    def _autocast_ctx(self):
        """Forward (not backward) in the autocast dtype, e.g. bf16 on a GPU."""
        if not self.autocast:
            return contextlib.nullcontext()
        return torch.autocast(torch.device(self.device).type, dtype=getattr(torch, self.autocast))

    @staticmethod
    def _param_groups(model: nn.Module, lr: float, weight_decay: float) -> list[dict]:
        """A model may ask for its own groups (a pretrained backbone wants a far smaller learning rate
        than a fresh head): `optim_groups(lr, weight_decay)`. DDP wrappers are looked through."""
        inner = getattr(model, "module", model)
        if hasattr(inner, "optim_groups"):
            return inner.optim_groups(lr, weight_decay)
        return [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": weight_decay}]

    def _optim_kw(self, dev: torch.device) -> dict:
        fused = self.fused if self.fused is not None else dev.type == "cuda"
        return {"fused": True} if fused else {}

    def _sync_user_grads(self, lam: torch.Tensor) -> None:
        if self.parallel is not None and lam.grad is not None:
            self.parallel.average_(lam.grad)

    def _phi(self, model: nn.Module, inputs: Any, rows: torch.Tensor) -> torch.Tensor:
        return model(inputs[rows.cpu()] if not isinstance(inputs, torch.Tensor) else inputs[rows])

    def _pair_diffs(self, model: nn.Module, inputs: Any, pairs: PairTable,
                    pair_idx: torch.Tensor) -> torch.Tensor:
        """phi(a) - phi(b) for the given pairs, running the model once per distinct response."""
        a = torch.as_tensor(pairs.a, device=pair_idx.device)[pair_idx]
        b = torch.as_tensor(pairs.b, device=pair_idx.device)[pair_idx]
        rows, inv = torch.unique(torch.cat([a, b]), return_inverse=True)
        phi = self._phi(model, inputs, rows)
        n = a.shape[0]
        return phi[inv[:n]] - phi[inv[n:]]

    # -- fitting -----------------------------------------------------------------------------------
    def fit(self, model: nn.Module, inputs: Any, pairs: PairTable, prefs: Preferences,
            progress: Callable[[str, int, int], None] | None = None) -> PReF:
        """Fit `model` (any torch module mapping a batch of response inputs to R^J) and user vectors.

        `inputs[rows]` must give the model's input for those response rows."""
        if prefs.n_pairs != len(pairs):
            raise ValueError("prefs.n_pairs does not match the pair table")
        if len(prefs) == 0:
            raise ValueError("no observations to train on")
        t0 = time.perf_counter()
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        dev = torch.device(self.device)
        model.to(dev)
        J = self.n_components
        history: dict[str, list[float]] = {"init": [], "joint": []}

        ymat = prefs.matrix()
        completed = soft_impute(2.0 * ymat - 1.0, rank=J, shrink=self.shrink)
        self.spectrum_ = completed.spectrum
        self.elbow_ = elbow(completed.spectrum, max_rank=min(50, completed.spectrum.size))

        if self.svd_init:
            uf, pf = completed.user_factors, completed.pair_factors
            z = np.einsum("kj,kj->k", uf[prefs.user], pf[prefs.pair])
            k = _fit_scale(z, prefs.outcome)
            lam0 = uf * math.sqrt(k)
            target = torch.tensor(pf * math.sqrt(k), dtype=torch.float32, device=dev)
            # Step 2: regress the basis model's pair differences on the SVD pair factors (L2 loss).
            seen = torch.as_tensor(np.unique(prefs.pair), device=dev)
            opt = torch.optim.Adam(self._param_groups(model, self.lr, 0.0), lr=self.lr, weight_decay=0.0,
                                   **self._optim_kw(dev))
            for ep in range(self.init_epochs):
                for batch in self._batches(seen, rng):
                    opt.zero_grad()
                    micro = self._micro(batch)
                    loss_sum = 0.0
                    for i, (part, w) in enumerate(micro):
                        with self._sync_ctx(model, last=i == len(micro) - 1):
                            with self._autocast_ctx():
                                diff = self._pair_diffs(model, inputs, pairs, part).float()
                            loss = w * ((diff - target[part]) ** 2).sum(1).mean()
                            if i == 0:
                                loss = loss + self._weight_penalty(model)
                            loss.backward()
                        loss_sum += float(loss.detach())
                    opt.step()
                history["init"].append(loss_sum)
                if progress:
                    progress("init", ep + 1, self.init_epochs)
            # The SVD user factors belong to the pair factors, which the basis model reproduces only
            # in part (at ~3 % density the factors are mostly noise it cannot fit). Refit each user's
            # vector on the basis as fitted, by the same regularised logistic regression that new
            # users get; starting the joint phase from matched lambdas avoids a long, overconfident
            # detour (measured: validation AUC 0.66 -> see BENCHMARKS.md on the synthetic problem).
            lam0 = self._refit_users(model, inputs, pairs, prefs, dev, lam0)
        else:
            lam0 = rng.normal(0.0, 0.1, size=(prefs.n_users, J))

        lam = torch.tensor(lam0, dtype=torch.float32, device=dev, requires_grad=True)
        user = torch.as_tensor(prefs.user, device=dev)
        pair = torch.as_tensor(prefs.pair, device=dev)
        outcome = torch.as_tensor(prefs.outcome, dtype=torch.float32, device=dev)
        opt = torch.optim.AdamW(self._param_groups(model, self.lr, self.weight_decay)
                                + [{"params": [lam], "weight_decay": 0.0}], lr=self.lr, **self._optim_kw(dev))
        beta = self.beta if self.regularize else 0.0
        obs = torch.arange(len(prefs), device=dev)
        total_epochs = self.epochs + (0 if self.svd_init else self.init_epochs)  # equal compute
        for ep in range(total_epochs):
            for batch in self._batches(obs, rng):
                opt.zero_grad()
                micro = self._micro(batch)
                nll_sum = 0.0
                for i, (part, w) in enumerate(micro):
                    with self._sync_ctx(model, last=i == len(micro) - 1):
                        with self._autocast_ctx():
                            diff = self._pair_diffs(model, inputs, pairs, pair[part]).float()
                        logits = (lam[user[part]] * diff).sum(1)
                        nll = w * bt_loss(logits, outcome[part])
                        loss = nll
                        if i == 0:
                            # Penalty per user, scaled so that each user's prior weighs against their
                            # mean loss (added once per step, whatever the micro-batching).
                            loss = loss + 0.5 * beta * (lam ** 2).sum(1).mean() + self._weight_penalty(model)
                        loss.backward()
                    nll_sum += float(nll.detach())
                self._sync_user_grads(lam)
                opt.step()
            history["joint"].append(nll_sum)
            if progress:
                progress("joint", ep + 1, total_epochs)

        model.eval()
        self.model_ = model
        self.user_vectors_ = lam.detach().cpu().numpy().astype(np.float64)
        self.history_ = history
        self.train_seconds_ = time.perf_counter() - t0
        return self

    @torch.no_grad()
    def _refit_users(self, model, inputs, pairs: PairTable, prefs: Preferences, dev, lam0: np.ndarray
                     ) -> np.ndarray:
        all_pairs = torch.arange(len(pairs), device=dev)
        diffs = torch.cat([self._pair_diffs(model, inputs, pairs, b) for b in all_pairs.split(4096)])
        diffs = diffs.double().cpu().numpy()
        out = np.array(lam0, dtype=np.float64)
        order = np.argsort(prefs.user, kind="stable")
        bounds = np.searchsorted(prefs.user[order], np.arange(prefs.n_users + 1))
        for u in range(prefs.n_users):
            rows = order[bounds[u]:bounds[u + 1]]
            out[u] = fit_lambda(diffs[prefs.pair[rows]], prefs.outcome[rows], beta=1.0)[0]
        return out

    def _batches(self, idx: torch.Tensor, rng: np.random.Generator):
        n = idx.shape[0]
        if not self.batch_size or self.batch_size >= n:
            yield idx
            return
        perm = torch.as_tensor(rng.permutation(n), device=idx.device)
        for s in range(0, n, self.batch_size):
            yield idx[perm[s:s + self.batch_size]]

    # -- use ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def transform(self, inputs: Any, rows: np.ndarray | None = None) -> np.ndarray:
        """phi for response rows (all rows when None), as a float64 array."""
        model = self.model_
        if rows is None:
            rows = np.arange(len(inputs))
        r = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=next(model.parameters()).device)
        return self._phi(model, inputs, r).double().cpu().numpy()

    def population_mean(self) -> np.ndarray:
        return self.user_vectors_.mean(axis=0)
