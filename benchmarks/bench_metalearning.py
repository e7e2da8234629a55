"""Does meta-learning help? Leave-one-dataset-out over the bundled knowledge base.

    python benchmarks/bench_metalearning.py                      # the shipped seed (knowledge_base/seed)
    python benchmarks/bench_metalearning.py --kb /tmp/kb-build/kb.duckdb --json out.json

Every dataset of the store holds the recorded scores of the same candidate pool (``origin =
"candidate"``, full fidelity, same protocol; the configurations of the families registered here: a seed holding
CatBoost and XGBoost is judged without them where ``automl-meta[boost]`` is not installed). For each dataset,
the other datasets alone decide an ordering of the pool, and the recorded scores on the held-out dataset say
how good the first k configurations of that ordering are:

* ``retrieval``: ``store.suggest`` from 25 neighbours (the product's ``RETRIEVAL_K``) with the held-out dataset excluded (the
  product's own warm start), restricted to pool configurations, then padded by the neighbours'
  average rank (``store.similar``); ``retrieval-k3``: the same from the 3 nearest neighbours;
* ``nn-best``: auto-sklearn 1.0's start: the best pool configuration of the nearest dataset, then of
  the second nearest, ... (``store.similar`` and the recorded scores of those datasets);
* ``portfolio``: the greedy static portfolio (auto-sklearn 2.0) built from the other datasets only;
* ``family-defaults``: every family's default and hand-chosen variants, in registry order (all in the
  pool; the search's newer hand-written ``PORTFOLIO`` is mostly outside the pool, so it has no
  recorded scores to be judged by);
* ``random``: random orderings of the pool (expected value over 200 seeded permutations);
* ``lgbm-default``: the LightGBM family default configuration alone (the same for every k).

Reported for k = 1, 3, 10, 25: mean normalised regret of the best of the first k (0 = the pool's best
on that dataset, 1 = its worst; failed = 1) and the average rank among the methods (1 = best). Then the
same regret by time ("anytime"): the ordering is run on 2 workers with the held-out dataset's recorded
fit seconds, and the best configuration finished within T times that dataset's median configuration
seconds counts (T = 2, 4, 8, 16; a configuration that cannot finish in time still holds its worker). Then
the three targets, and (issue #3) whether nearest neighbours by meta-features share the best model
family more often than random pairs of datasets of the same task.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import knowledge_base as kb  # noqa: E402
from knowledge_base.canonical import config_id  # noqa: E402
from knowledge_base.portfolio import greedy_portfolio, normalised_regret  # noqa: E402
from automl.warm_start import RETRIEVAL_K, registered_families  # noqa: E402

KS = (1, 3, 10, 25)
TIMES = (2, 4, 8, 16)  # anytime budgets, in units of the held-out dataset's median configuration seconds
WORKERS = 2
METHODS = ("retrieval", "retrieval-k3", "nn-best", "portfolio", "family-defaults", "random", "lgbm-default")
PRODUCT_K = RETRIEVAL_K  # neighbours a fit retrieves from
N_RANDOM = 200
N_RANDOM_ANYTIME = 50  # permutations simulated in time (a Python loop each; the best-of-k uses all)


def load(kb_path: str | None):
    """A store to query (the seed imported into a temporary store unless --kb is given)."""
    if kb_path:
        return kb.open_store(kb_path, seed_dir=None), None  # read-only would refuse an older schema
    tmp = tempfile.TemporaryDirectory(prefix="bench-meta-")
    return kb.open_store(Path(tmp.name) / "kb.duckdb"), tmp


def pool_matrix(store, space_version: str):
    datasets = store.datasets()
    ev = store.evaluations(origin="candidate")
    ev = ev[(ev["fidelity"] >= 1.0) & (ev["space_version"].astype(str) == str(space_version))
            & ev["family"].isin(registered_families())].copy()
    ev.loc[ev["status"] != "ok", "loss"] = np.nan
    losses = ev.pivot_table(index="fingerprint", columns="config_id", values="loss", aggfunc="mean")
    seconds = ev.pivot_table(index="fingerprint", columns="config_id", values="fit_seconds", aggfunc="mean")
    configs = {cid: json.loads(c) for cid, c in zip(ev["config_id"], ev["config"])}
    datasets = datasets[datasets["fingerprint"].isin(losses.index)].set_index("fingerprint")
    return datasets, losses.loc[datasets.index], configs, seconds.reindex(index=datasets.index, columns=losses.columns)


def best_within(order: list[str], regret: pd.Series, seconds: pd.Series, budget: float, default: float) -> float:
    """Best regret among the configurations of ``order`` that finish within ``budget`` seconds on ``WORKERS``
    workers (each next configuration goes to the first free worker; one that cannot finish still holds it).
    ``seconds``: recorded per configuration, gaps already filled; ``default``: for one not in it."""
    free = [0.0] * WORKERS
    best = 1.0
    for cid in order:
        k = int(np.argmin(free))
        free[k] += seconds.get(cid, default)
        if free[k] <= budget:
            best = min(best, regret.get(cid, 1.0))  # regret: failed / unknown already 1
        if min(free) > budget:
            break
    return float(best)


def twins_of(datasets: pd.DataFrame) -> dict[str, list[str]]:
    """Other datasets with the same task and shape: PMLB holds some tables twice under two names."""
    key = datasets["task"].astype(str) + "|" + datasets["n_rows"].astype(str) + "|" + datasets["n_features"].astype(str)
    out = {}
    for fp in datasets.index:
        same = datasets.index[(key == key[fp]) & (datasets.index != fp)]
        out[fp] = list(same)
    return out


def retrieval_order(store, fp: str, row: pd.Series, regret_others: pd.DataFrame, k: int,
                    hidden: list[str]) -> list[str]:
    """The product path (``store.suggest`` from ``k`` neighbours, the held-out ``fp`` and the ``hidden`` names
    excluded), restricted to the pool (``regret_others``' columns), then the neighbours' average rank for the
    rest (``regret_others``: the other datasets' normalised regrets)."""
    from automl.metrics import DEFAULT_METRIC
    in_pool = set(regret_others.columns)
    mf, task = row["metafeatures"], row["task"]
    suggested = [s.config_id for s in store.suggest(mf, task, DEFAULT_METRIC[task], n=60, k=k,
                                                    families=set(registered_families()), exclude_fingerprint=fp,
                                                    exclude_names=hidden)
                 if s.config_id in in_pool]
    neighbours = [n.fingerprint for n in store.similar(mf, task, k=k, exclude_fingerprint=fp, exclude_names=hidden)
                  if n.fingerprint in regret_others.index]
    base = regret_others.loc[neighbours] if neighbours else regret_others
    fill = base.mean(axis=0).sort_values(kind="stable").index.tolist()
    return list(dict.fromkeys(suggested + fill))


def orderings(store, fp: str, row: pd.Series, task_losses: pd.DataFrame, configs: dict, default_id: str | None,
              hand_ids: list[str], rng, twins: list[str], names: dict[str, str]) -> dict[str, list[list[str]]]:
    """Per method, one or more orderings of pool config ids (random: many)."""
    pool = list(task_losses.columns)
    in_pool = set(pool)
    mf = row["metafeatures"]
    task = row["task"]
    others = task_losses.drop(index=[fp, *[t for t in twins if t in task_losses.index]])
    hidden = [names[t] for t in twins]
    regret_others = pd.DataFrame(normalised_regret(others.to_numpy()), index=others.index, columns=pool)

    def retrieval(k: int) -> list[str]:
        return retrieval_order(store, fp, row, regret_others, k, hidden)

    steps = greedy_portfolio(regret_others.to_numpy(), size=len(pool), normalise=False, stop_when_flat=False)
    portfolio = [pool[s.column] for s in steps]
    hand = [c for c in hand_ids if c in in_pool]
    hand = hand + [c for c in regret_others.mean(axis=0).sort_values(kind="stable").index if c not in hand]
    # auto-sklearn 1.0's meta-learning start: the best configuration of the nearest dataset, then of the next ...
    near = [n.fingerprint for n in store.similar(mf, task, k=25, exclude_fingerprint=fp, exclude_names=hidden)
            if n.fingerprint in regret_others.index]
    firsts = [regret_others.loc[n].idxmin() for n in near]
    nn_best = list(dict.fromkeys(firsts + retrieval(PRODUCT_K)))
    out = {"retrieval": [retrieval(PRODUCT_K)], "retrieval-k3": [retrieval(3)], "nn-best": [nn_best],
           "portfolio": [portfolio],
           "family-defaults": [hand], "random": "random"}
    if default_id in in_pool:
        out["lgbm-default"] = [[default_id]]
    return out


def best_of_k(order: list[str], regret: pd.Series, k: int) -> float:
    values = regret.reindex(order[:k]).fillna(1.0)
    return float(values.min())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default=None, help="a store file (default: the bundled seed in a temporary store)")
    parser.add_argument("--json", dest="json_out", default=None, help="also write the figures as JSON here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-twins", action="store_true",
                        help="let a dataset's same-shape twin (PMLB duplicates) count as another dataset")
    args = parser.parse_args(argv)

    from automl.models import REGISTRY
    try:
        from automl.search.portfolio import family_defaults
    except ImportError:  # older search package
        from automl.search.portfolio import static_portfolio as family_defaults
    from automl.space import SPACE_VERSION
    started = time.monotonic()
    store, tmp = load(args.kb)
    datasets, losses, configs, seconds = pool_matrix(store, SPACE_VERSION)
    if len(datasets) < 5:
        print(f"only {len(datasets)} dataset(s) with candidate evaluations for space version {SPACE_VERSION}; "
              f"build the knowledge base first (docs/knowledge-base.md)")
        return 1
    rng = np.random.default_rng(args.seed)
    twins = {fp: [] for fp in datasets.index} if args.keep_twins else twins_of(datasets)
    names = datasets["name"].astype(str).to_dict()
    rows = []
    wins = {"lgbm": [0, 0, 0], "random": [], "portfolio": [0, 0, 0]}
    for task, part in datasets.groupby("task"):
        default_id = config_id(REGISTRY.get("lightgbm").default_config(task))  # ids are per task (conditions)
        task_losses = losses.loc[part.index].dropna(axis=1, how="all")
        regret_all = pd.DataFrame(normalised_regret(task_losses.to_numpy()), index=task_losses.index,
                                  columns=task_losses.columns)
        for fp, row in part.iterrows():
            n_rows = int(row["n_rows"])
            hand_ids = [config_id(c) for c in family_defaults(REGISTRY.for_task(task, min(n_rows, 2000)), task)]
            orders = orderings(store, fp, row, task_losses, configs, default_id, hand_ids, rng, twins[fp], names)
            regret = regret_all.loc[fp]
            loss = task_losses.loc[fp]
            perms = np.argsort(rng.random((N_RANDOM, len(regret))), axis=1)
            filled = regret.fillna(1.0)
            r = filled.to_numpy()
            median = float(seconds.loc[fp].median())  # also for a configuration without recorded seconds
            secs = seconds.loc[fp].fillna(median)
            for method, lists in orders.items():
                for t in TIMES:
                    if method == "random":
                        value = float(np.mean([best_within([regret.index[j] for j in perm], filled, secs, t * median,
                                                           median) for perm in perms[:N_RANDOM_ANYTIME]]))
                    else:
                        value = float(np.mean([best_within(o, filled, secs, t * median, median) for o in lists]))
                    rows.append({"dataset": row["name"], "fingerprint": fp, "task": task, "method": method,
                                 "k": f"T{t}", "regret": value})
                for k in KS:
                    if method == "random":  # expected best of k random pool configurations
                        value = float(r[perms[:, :k]].min(axis=1).mean())
                    else:
                        value = float(np.mean([best_of_k(o, regret, k) for o in lists]))
                    rows.append({"dataset": row["name"], "fingerprint": fp, "task": task, "method": method, "k": k,
                                 "regret": value})
            top1 = orders["retrieval"][0][0]
            if "lgbm-default" in orders:
                a, b = loss.get(top1, np.nan), loss.get(default_id, np.nan)
                a, b = (np.inf if np.isnan(a) else a), (np.inf if np.isnan(b) else b)
                wins["lgbm"][0 if a < b else (1 if a == b else 2)] += 1
            a = regret.get(top1, 1.0)
            b = regret.get(orders["portfolio"][0][0], 1.0)
            wins["portfolio"][0 if a < b else (1 if a == b else 2)] += 1
    frame = pd.DataFrame(rows)
    frame["rank"] = frame.groupby(["fingerprint", "k"])["regret"].transform(lambda s: rankdata(s))
    n = frame["fingerprint"].nunique()
    by_task = datasets["task"].value_counts().to_dict()
    n_twins = sum(1 for t in twins.values() if t)
    print(f"leave-one-dataset-out over {n} datasets {by_task}; pool of {losses.shape[1]} configurations; "
          f"space version {SPACE_VERSION}; {n_twins} dataset(s) also had their same-shape twin(s) held out")
    print("  regret = normalised regret of the best of the first k (0 best of pool, 1 worst); rank among the "
          f"{len(METHODS)} methods (1 = best)\n")
    tables = {}
    for k in KS:
        part = frame[frame["k"] == k]
        table = part.groupby("method").agg(mean_regret=("regret", "mean"), median_regret=("regret", "median"),
                                           avg_rank=("rank", "mean")).reindex(list(METHODS)).dropna(how="all")
        tables[k] = table
        print(f"k = {k}")
        print(table.round(3).to_string())
        print()
    anytime = frame[frame["k"].astype(str).str.startswith("T")]
    table = anytime.pivot_table(index="method", columns="k", values="regret", aggfunc="mean")
    table = table.reindex(index=list(METHODS), columns=[f"T{t}" for t in TIMES]).dropna(how="all")
    tables["anytime"] = table
    print(f"anytime: mean regret of the best finished within T x the dataset's median configuration seconds, "
          f"{WORKERS} workers")
    print(table.round(3).to_string())
    print()
    w = wins["lgbm"]
    total = sum(w)
    share = w[0] / max(1, total)
    r10 = tables[10].loc[["retrieval", "random"], "avg_rank"]
    p1 = tables[1].loc[["retrieval", "retrieval-k3", "nn-best", "portfolio"], "mean_regret"]
    wp = wins["portfolio"]
    print("targets")
    print(f"  top-1 retrieved beats LightGBM defaults on {w[0]}/{total} datasets = {share:.0%} "
          f"(ties {w[1]}, losses {w[2]}); target >= 65 %: {'met' if share >= 0.65 else 'NOT met'}")
    print(f"  best-of-10 average rank: retrieval {r10['retrieval']:.2f} vs random {r10['random']:.2f} "
          f"(margin {r10['random'] - r10['retrieval']:.2f}); {'met' if r10['random'] - r10['retrieval'] >= 0.3 else 'NOT met'}")
    print(f"  k = 1 mean regret: retrieval {p1['retrieval']:.3f} (k3: {p1['retrieval-k3']:.3f}, nn-best: "
          f"{p1['nn-best']:.3f}) vs static portfolio "
          f"{p1['portfolio']:.3f}; retrieval head to head {wp[0]} wins, {wp[1]} ties, {wp[2]} losses; "
          f"{'met' if p1['retrieval'] < p1['portfolio'] else 'NOT met'}")
    family = neighbour_families(store, datasets, losses, configs, rng, twins, names)
    print()
    print("neighbours and best model families (issue #3)")
    print(f"  nearest neighbour (by meta-features, same task) has the same best family: {family['nn']:.0%} of "
          f"{family['n']} datasets; random pairs of the same task: {family['random']:.0%}; "
          f"lift {family['nn'] - family['random']:+.0%}")
    print(f"  best family counts: {family['counts']}")
    print(f"\n{time.monotonic() - started:.1f}s")
    if args.json_out:
        out = {"tables": {k: t.reset_index().to_dict(orient="records") for k, t in tables.items()},
               "lgbm_wins": w, "portfolio_head_to_head": wp, "families": family, "n_datasets": n,
               "space_version": str(SPACE_VERSION)}
        Path(args.json_out).write_text(json.dumps(out, indent=1, default=float))
    if tmp is not None:
        tmp.cleanup()
    return 0


def neighbour_families(store, datasets: pd.DataFrame, losses: pd.DataFrame, configs: dict, rng, twins: dict,
                       names: dict) -> dict:
    """How often a dataset's nearest neighbour shares its best family, against random same-task pairs."""
    best = {}
    for fp in datasets.index:
        row = losses.loc[fp].dropna()
        if len(row):
            best[fp] = configs[row.idxmin()]["family"]
    same_nn, same_random, n = [], [], 0
    for fp, row in datasets.iterrows():
        if fp not in best:
            continue
        nbs = [nb.fingerprint for nb in store.similar(row["metafeatures"], row["task"], k=3, exclude_fingerprint=fp,
                                                      exclude_names=[names[t] for t in twins[fp]])
               if nb.fingerprint in best]
        if not nbs:
            continue
        n += 1
        same_nn.append(best[nbs[0]] == best[fp])
        peers = [p for p in datasets.index[datasets["task"] == row["task"]]
                 if p != fp and p in best and p not in twins[fp]]
        draws = rng.choice(peers, size=min(50, len(peers)), replace=False)
        same_random.append(np.mean([best[p] == best[fp] for p in draws]))
    counts = pd.Series(best).value_counts().to_dict()
    return {"nn": float(np.mean(same_nn)) if same_nn else float("nan"),
            "random": float(np.mean(same_random)) if same_random else float("nan"), "n": n, "counts": counts}


if __name__ == "__main__":
    raise SystemExit(main())
