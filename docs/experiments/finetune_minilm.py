"""Does fine-tuning the encoder give a better reader? (issue 14, BENCHMARKS.md "What limits the reading
target").

Stage 1 trains a linear head (8 dims, weight decay 0.3) and the 59 training users' vectors by
Bradley-Terry on the shipped basis's own features: all-MiniLM-L6-v2 per sentence, the mean and the max
over sentences, and the ten statistics. The data is the training users' simulated answers on the
training prompts. Stage 2 then also fine-tunes MiniLM's last transformer layer, on batches of 10
training prompts. The validation AUC (training users x held-out prompts, the basis's own validation
quadrant) is printed every 50 steps, and the best checkpoint is kept. Each stage then runs the quiz's
cost-aware curve with its phi, as `prefchat eval` does: new users, the stored split, their answers for
each seed, the population prior of the trained user vectors widened by PRIOR_WIDENING. This is not
the shipped trainer (that is PReF with an SVD start; `prefchat train`); both stages use this simpler
one, so their difference is the fine-tuning's.

    python docs/experiments/finetune_minilm.py STEPS LR [SEEDS] [--from-shipped]   # e.g. 50 1e-4 1,2,3,4

With --from-shipped, stage 1 is the shipped head itself (the training users' vectors refitted on it),
and stage 2's weight penalty pulls the head toward it.
"""
import sys, time, copy, numpy as np, torch
from transformers import AutoModel, AutoTokenizer
from prefchat.basis.encoders import locate_minilm, text_stats, split_sentences
from prefchat.data import load_corpus, simulate
from prefchat.data.splits import load_split
from prefchat.data.reading import row_pair_words
from prefchat.reward.elicit import population_prior, PRIOR_WIDENING
from prefchat.reward.evaluate import elicitation_curve
from prefchat.reward.metrics import auc
torch.manual_seed(0); torch.set_num_threads(2)
STEPS = int(sys.argv[1]); LR = float(sys.argv[2]); WD = 0.3
SEEDS = [int(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "1,2,3,4").split(",")]
FROM_SHIPPED = "--from-shipped" in sys.argv
c = load_corpus(None); s = load_split(c)
pop = s.population("paper"); tu = pop.subset(s.train_users["paper"]); nu = pop.subset(s.new_users["paper"])
ca, cb, cp = c.pairs(s.train_prompts); ha, hb, _ = c.pairs(s.heldout_prompts)
y_tr = torch.tensor(simulate(tu, c.traits, ca, cb, seed=0), dtype=torch.float32)
y_va = simulate(tu, c.traits, ha, hb, seed=1)
path = locate_minilm()
tok = AutoTokenizer.from_pretrained(path); model = AutoModel.from_pretrained(path).eval()
sents, owner = [], []
for i, t in enumerate(c.texts):
    parts = split_sentences(t) or [t]; sents.extend(parts); owner.extend([i] * len(parts))
owner = np.asarray(owner)
enc = tok(sents, padding=True, truncation=True, max_length=256, return_tensors="pt")
L = model.config.num_hidden_layers
with torch.no_grad():
    H_in = torch.cat([model(input_ids=enc["input_ids"][i:i+256], attention_mask=enc["attention_mask"][i:i+256],
                            token_type_ids=enc.get("token_type_ids")[i:i+256] if "token_type_ids" in enc else None,
                            output_hidden_states=True).hidden_states[L - 1] for i in range(0, len(sents), 256)])
mask = enc["attention_mask"]; ext = (1.0 - mask[:, None, None, :].float()) * -1e4
last = copy.deepcopy(model.encoder.layer[L - 1])
ST = torch.tensor(text_stats(c.texts))
sent_of = [np.flatnonzero(owner == i) for i in range(len(c.texts))]
def feats(rows):
    srows = np.concatenate([sent_of[r] for r in rows]); own = np.concatenate([[k] * len(sent_of[r]) for k, r in enumerate(rows)])
    o = last(H_in[srows], attention_mask=ext[srows]); o = o[0] if isinstance(o, tuple) else o
    mm = mask[srows].unsqueeze(-1).float()
    e = torch.nn.functional.normalize((o * mm).sum(1) / mm.sum(1).clamp(min=1e-9), dim=-1)
    own_t = torch.tensor(own)
    mean = torch.zeros(len(rows), 384).index_add(0, own_t, e) / torch.bincount(own_t, minlength=len(rows))[:, None]
    mx = torch.stack([e[own_t == k].max(0).values for k in range(len(rows))])
    return torch.cat([mean, mx, ST[rows]], 1)
all_rows = np.arange(len(c.texts)); tr = np.unique(np.concatenate([ca, cb]))
with torch.no_grad():
    last.eval(); F0 = torch.cat([feats(all_rows[i:i + 64]) for i in range(0, len(all_rows), 64)])
from prefchat.basis.encoders import MiniLMEncoder
from prefchat.basis.train import cached_features
ref = cached_features(MiniLMEncoder(), c.texts)  # the shipped basis's features of the same texts
print(f"features: largest difference from the shipped basis's {float(np.abs(F0.numpy() - ref).max()):.1e}", flush=True)
if FROM_SHIPPED:
    # Start from the shipped head (PReF-trained) and refit each training user's vector on it; stage 2's
    # weight penalty then pulls the head toward the shipped weights (W0), not toward zero.
    from prefchat.basis import load_basis
    from prefchat.reward.elicit import fit_lambda
    sh = load_basis(None).scorer().head
    mu, sd = sh.mean.detach().clone(), sh.scale.detach().clone()
    head = torch.nn.Linear(F0.shape[1], 8); head.load_state_dict(sh.linear.state_dict())
    P0 = head((F0 - mu) / sd).detach().double().numpy()
    U = torch.nn.Parameter(torch.tensor(np.stack([fit_lambda(P0[ca] - P0[cb], y_tr[u].numpy(), beta=0.02)[0]
                                                  for u in range(len(tu))]), dtype=torch.float32))
else:
    mu, sd = F0[tr].mean(0), F0[tr].std(0) + 1e-6
    head = torch.nn.Linear(F0.shape[1], 8); U = torch.nn.Parameter(0.1 * torch.randn(len(tu), 8))
    ca_, cb_ = torch.tensor(ca), torch.tensor(cb)
    opt = torch.optim.Adam(list(head.parameters()) + [U], lr=0.01)
    for step in range(800):
        phi = head((F0 - mu) / sd); z = U @ (phi[ca_] - phi[cb_]).T
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y_tr) + WD * (head.weight ** 2).sum() + 1e-4 * (U ** 2).sum()
        opt.zero_grad(); loss.backward(); opt.step()
W0 = head.weight.detach().clone() if FROM_SHIPPED else torch.zeros_like(head.weight)
def phi_all():
    with torch.no_grad():
        last.eval(); F = torch.cat([feats(all_rows[i:i + 64]) for i in range(0, len(all_rows), 64)]); last.train()
        return head((F - mu) / sd).double().numpy()
def val(P): Un = U.detach().double().numpy(); return np.nanmean([auc(Un[u] @ (P[ha] - P[hb]).T, y_va[u]) for u in range(len(tu))])
def quiz(P, tag):
    Un = U.detach().double().numpy(); mean, prec = population_prior(Un); prec = prec / PRIOR_WIDENING
    costs = row_pair_words(c, ca, cb); r = []
    for seed in SEEDS:
        cal = simulate(nu, c.traits, ca, cb, seed=seed + 11); test = simulate(nu, c.traits, ha, hb, seed=seed + 12)
        cur = elicitation_curve(P[ca] - P[cb], cp, cal, P[ha] - P[hb], test, [15], strategy="cost-aware", beta=prec,
                                prior_mean=mean, seed=seed, costs=costs, word_budgets=[1273])
        r.append((cur.mean_auc_at_words()[1273], cur.mean_auc()[15]))
    r = np.array(r); print(f"{tag}: cost-aware 1273 per seed {np.round(r[:,0],3)} mean {r[:,0].mean():.3f}; cost-aware 15 answers mean {r[:,1].mean():.3f}", flush=True)
t0 = time.time(); P = phi_all(); best = (val(P), P, 0)
print(f"stage 1: val {best[0]:.4f}", flush=True); quiz(P, "stage 1")
for p in last.parameters(): p.requires_grad_(True)
last.train()
opt2 = torch.optim.Adam([{"params": list(last.parameters()), "lr": LR}, {"params": list(head.parameters()) + [U], "lr": LR}])
prompts = sorted(set(cp.tolist())); pidx = {p: i for i, p in enumerate(prompts)}; pair_prompt = np.array([pidx[p] for p in cp])
rng = np.random.default_rng(0)
for step in range(STEPS):
    pick = rng.choice(len(prompts), 10, replace=False); pm = np.flatnonzero(np.isin(pair_prompt, pick))
    rows = np.unique(np.concatenate([ca[pm], cb[pm]])); loc = {r: i for i, r in enumerate(rows)}
    phi = head((feats(rows) - mu) / sd)
    d = phi[[loc[r] for r in ca[pm]]] - phi[[loc[r] for r in cb[pm]]]
    loss = torch.nn.functional.binary_cross_entropy_with_logits(U @ d.T, y_tr[:, pm]) + WD * ((head.weight - W0) ** 2).sum() + 1e-4 * (U ** 2).sum()
    opt2.zero_grad(); loss.backward(); opt2.step()
    if step % 50 == 49:
        P = phi_all(); v = val(P)
        print(f"step {step+1}: loss {loss.item():.4f} val {v:.4f} {time.time()-t0:.0f}s", flush=True)
        if v > best[0]: best = (v, P, step + 1)
print(f"best val {best[0]:.4f} at step {best[2]}", flush=True)
if best[2]: quiz(best[1], f"stage 2 (step {best[2]})")
