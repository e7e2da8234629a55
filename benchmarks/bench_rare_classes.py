"""What a class set aside for being too small should get as probability: its share of the rows, or what a model
fitted on every row (LightGBM's defaults) gives it? Simulated on pool multiclass tables: on each split one class
with 10+ training rows keeps r = 1..4 of them (and its proportional share of test rows); the main model (LightGBM
defaults on the other classes) is the same in both answers, only the rare class's column differs.

    python benchmarks/bench_rare_classes.py ../shared/datasets/pmlb

Prints per r the pairs where the side model's log-loss is lower / higher than the share's, a sign test and the
median difference; then per dataset the mean log-loss of the share, the side model and the defaults alone.
"""
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import log_loss

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fits import split  # noqa: E402

P = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/pmlb"
s = pd.read_csv(f"{P}/summary.csv")
s = s[(s.endpoint_type == "discrete") & (s.n_instances <= 20000) & (s.n_instances >= 200)]
rng = np.random.default_rng(5)
names = sorted(rng.choice(s.dataset.to_numpy(), size=min(16, len(s)), replace=False))
rows = []
for name in names:
    d = pd.read_csv(f"{P}/{name}.tsv.gz", sep="\t"); X = d.drop(columns="target"); y = d["target"]
    for seed in range(3):
        Xtr, Xte, ytr, yte = split(X, y, "multiclass", seed)
        ytr = np.asarray(ytr); yte = np.asarray(yte); K = int(max(ytr.max(), yte.max())) + 1
        counts = np.bincount(ytr, minlength=K)
        ok = np.flatnonzero(counts >= 10)
        if len(ok) < 3: continue
        r_ = np.random.default_rng(seed)
        c = int(r_.choice(ok))
        for r in (1, 2, 3, 4):
            keep_c = r_.choice(np.flatnonzero(ytr == c), size=r, replace=False)
            tr = np.concatenate([np.flatnonzero(ytr != c), keep_c])
            n_te_c = max(1, int(round(r * len(yte) / len(ytr))))
            te_c = r_.choice(np.flatnonzero(yte == c), size=min(n_te_c, (yte == c).sum()), replace=False)
            te = np.concatenate([np.flatnonzero(yte != c), te_c])
            Xa, ya = Xtr.iloc[tr], ytr[tr]; Xt, yt = Xte.iloc[te], yte[te]
            kept = np.flatnonzero(np.bincount(ya, minlength=K) > 0); kept = kept[kept != c]
            main = lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=seed).fit(Xa[ya != c], ya[ya != c])
            pm = np.zeros((len(yt), K)); pm[:, main.classes_] = main.predict_proba(Xt)
            share = r / len(ya)
            p1 = pm * (1 - share); p1[:, c] = share
            side = lgb.LGBMClassifier(verbose=-1, n_jobs=1, random_state=seed).fit(Xa, ya)
            ps = np.zeros((len(yt), K)); ps[:, side.classes_] = side.predict_proba(Xt)
            p2 = pm * (1 - ps[:, [c]]); p2[:, c] = ps[:, c]
            full = ps  # the defaults on every row
            lab = np.arange(K)
            rows.append(dict(name=name, seed=seed, r=r, c=c, share=log_loss(yt, np.clip(p1, 1e-15, 1), labels=lab),
                             side=log_loss(yt, np.clip(p2, 1e-15, 1), labels=lab),
                             defaults=log_loss(yt, np.clip(full, 1e-15, 1), labels=lab),
                             pc_side_on_c=float(np.median(ps[yt == c, c])), pc_side_other=float(np.mean(ps[yt != c, c]))))
        print(name, seed, flush=True)
df = pd.DataFrame(rows)
for r, g in df.groupby("r"):
    w = int((g.side < g.share).sum()); l = int((g.side > g.share).sum())
    print(f"r={r} pairs={len(g)} side better {w} worse {l} p={binomtest(w, w + l).pvalue if w + l else 1:.3g} "
          f"median diff (side-share) {np.median(g.side - g.share):+.4f} mean {np.mean(g.side - g.share):+.4f} "
          f"median p_c on c rows {g.pc_side_on_c.median():.3f}")
g = df; w = int((g.side < g.share).sum()); l = int((g.side > g.share).sum())
print(f"all pairs={len(g)} side better {w} worse {l} p={binomtest(w, w + l).pvalue:.3g}")
print(df.groupby("name")[["share", "side", "defaults"]].mean().round(4))
