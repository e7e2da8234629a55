"""The search strategies against peers, at equal budget and cores, on PMLB datasets.

    python benchmarks/bench_search.py ../shared/datasets/pmlb --budget 10 --n-jobs 2 \
        --systems warm,bo,random,hyperband,flaml,optuna-lgbm,autogluon,lgbm-default,constant

Systems: ``warm`` / ``bo`` / ``random`` / ``hyperband`` are this project's ``AutoML`` estimator with that
strategy (end to end: cleaning, meta-features, knowledge-base retrieval, search, ensemble). Peers run when
importable (``pip install -r benchmarks/requirements.txt``; they are not product dependencies): FLAML,
AutoGluon (``medium_quality``), Optuna TPE over LightGBM with the same validation protocol as ours; LightGBM
defaults and a constant predictor always run.

Each dataset is split 75/25 (``fits.split``: stratified, seeded, a class of one row on the training side);
every system fits on the 75 % within the budget and is scored on the 25 % with the task's default metric
(ROC-AUC, log-loss, RMSE). Printed per system: mean
rank, mean normalised score (s - s_constant) / (s_best - s_constant), wins/ties/losses against FLAML,
budget overrun (wall - budget: median, max), and for our strategies the optimiser overhead (driver time
spent sampling, bookkeeping and ensembling, including proposals computed ahead while the workers were busy:
on 2 cores the driver competes with the workers) as a share of the budget. Then: the share of datasets where
``warm`` beats both ``bo`` and ``random``. Each line also shows the machine's load while it ran (other
processes' CPU competes on a shared machine; compare runs made under similar load).

``--seeds 0,1,2`` repeats every dataset over several splits and ranks the systems on each dataset's mean score:
one 25 % test split of a small dataset is noisy enough to reorder systems whose models differ little.

Leave-one-out: ``warm`` never retrieves the dataset it is measured on, nor its copies stored under other
names (``left_out``; the estimator reads the store through ``leave_out.LeaveOut``, which hides them). ``--keep-own-dataset`` turns
this off to measure an upper bound, never a figure of warm's. The knowledge base is ``--kb`` (default:
``AUTOML_KB`` or a temporary store, seeded from the package's seed when there is one); nothing is written back.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
warnings.filterwarnings("ignore")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

OURS = ("warm", "bo", "random", "hyperband")
DEFAULT_DATASETS = [
    # binary
    "breast_cancer_wisconsin", "diabetes", "credit_g", "phoneme", "pima", "ionosphere", "kr_vs_kp", "magic",
    "Hill_Valley_with_noise", "colic",
    # multiclass
    "car_evaluation", "wine_quality_red", "yeast", "vowel", "dermatology", "page_blocks", "splice",
    # regression
    "1027_ESL", "197_cpu_act", "201_pol", "4544_GeographicalOriginalofMusic", "581_fri_c3_500_25",
    "556_analcatdata_apnea2", "1199_BNG_echoMonths",
]
QUICK_DATASETS = ["breast_cancer_wisconsin", "credit_g", "phoneme", "car_evaluation", "yeast", "1027_ESL",
                  "197_cpu_act", "581_fri_c3_500_25"]
MAX_ROWS = 20_000


def use_knowledge_base(path: str | None) -> None:
    """The knowledge base the fits read: ``path``, else ``AUTOML_KB``, else a temporary store (filled from the seed)."""
    if path:
        os.environ["AUTOML_KB"] = path
    elif "AUTOML_KB" not in os.environ:
        os.environ["AUTOML_KB"] = str(Path(tempfile.mkdtemp(prefix="bench-kb-")) / "kb.duckdb")


def tasks_of(summary: pd.DataFrame) -> dict[str, str]:
    """Dataset name -> our task, from PMLB's summary.csv (its endpoint types)."""
    from knowledge_base.sources.folder import PMLB_TASKS
    return {r.dataset: PMLB_TASKS[r.endpoint_type] for r in summary.itertuples()}


def load(pmlb: Path, name: str, task_of: dict,
         max_rows: int | None = MAX_ROWS) -> tuple[pd.DataFrame, pd.Series, str]:
    """(features, target, task) of ``name``; a seeded sample of ``max_rows`` rows (None: every row)."""
    frame = pd.read_csv(pmlb / f"{name}.tsv.gz", sep="\t")
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.sample(max_rows, random_state=0)
    return frame.drop(columns=["target"]), frame["target"], task_of[name]


DUPLICATE_DISTANCE = 0.25  # meta-feature distance under which a stored dataset of the same shape is a copy


def left_out(pmlb: Path, name: str, task_of: dict) -> tuple[str, ...]:
    """What leave-one-out leaves out of the knowledge base for ``name``: the dataset itself and the stored
    datasets that are copies or siblings of it under another name (as many rows and features as the stored
    ``name`` and within ``DUPLICATE_DISTANCE`` in meta-features). PMLB holds several: wdbc is
    breast_cancer_wisconsin, pima is diabetes, german is credit_g, horse_colic is colic; the siblings are
    generated the same way (Hill_Valley_without_noise, 584_fri_c4_500_25 and 582_fri_c1_500_25,
    557_analcatdata_apnea1). A measured dataset's own 75 % split sits about 0.06 from its stored entry, the
    copies and siblings 0.08 to 0.14, the next datasets 0.25 and more. Read from the whole file (the
    measured rows may be a sample of it)."""
    import knowledge_base as kb
    import metafeatures
    from automl.data import TableEncoder
    X, y, task = load(pmlb, name, task_of, max_rows=None)
    X = TableEncoder().fit_transform(X)
    y = np.unique(y, return_inverse=True)[1] if task != "regression" else y.to_numpy(dtype=float)
    near = kb.open_store(None).similar(metafeatures.compute(X, y, task), task, k=10)
    own = [n for n in near if n.name == name]
    if not own:
        return (name,)
    shape = (own[0].n_rows, own[0].n_features)
    copies = [n.name for n in near
              if n.name != name and (n.n_rows, n.n_features) == shape and n.distance < DUPLICATE_DISTANCE]
    return (name, *copies)


def metric_of(task: str):
    """(name, score(y, prediction) with greater = better, needs probabilities)."""
    from sklearn.metrics import log_loss, mean_squared_error, roc_auc_score
    if task == "binary":
        return "roc_auc", lambda y, p: roc_auc_score(y, p[:, 1]), True
    if task == "multiclass":
        return "log_loss", lambda y, p: -log_loss(y, np.clip(p, 1e-15, 1), labels=np.arange(p.shape[1])), True
    return "rmse", lambda y, p: -float(np.sqrt(mean_squared_error(y, p))), False


def trial_split(X, y, task: str, seed: int, protocol: str | None = None) -> tuple:
    """One benchmark split (75 / 25, stratified, seeded) prepared as the search prepares it, for benchmarks
    that run trials directly: (encoded train X, test X, train y, test y, classes, ``run_trial``'s data).
    ``protocol`` as in ``automl.search.validation`` (default: the one the search chooses for the rows)."""
    from fits import split

    from automl.data import TableEncoder
    from automl.metrics import get_metric
    from automl.search.validation import choose_protocol, make_splits
    Xtr, Xte, ytr, yte = split(X, y, task, seed, codes=False)
    encoder = TableEncoder()
    Xtr, Xte = encoder.fit_transform(Xtr), encoder.transform(Xte)
    ytr, yte = np.asarray(ytr), np.asarray(yte)
    n_classes = int(ytr.max()) + 1 if task != "regression" else 0
    splits = make_splits(ytr, task, protocol or choose_protocol(len(ytr)), seed)
    data = {"X": Xtr, "y": ytr, "task": task, "metric": get_metric(metric_of(task)[0], task), "splits": splits,
            "seed": seed}
    return Xtr, Xte, ytr, yte, n_classes, data


def available(system: str) -> bool:
    if system == "autogluon":
        import subprocess
        return subprocess.run([AUTOGLUON_PYTHON, "-c", "import autogluon.tabular"], capture_output=True).returncode == 0
    module = {"flaml": "flaml", "optuna-lgbm": "optuna"}.get(system)
    if module is None:
        return True
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# ---------------------------------------------------------------------------------------------- systems
class _Capture:
    """Wraps ``automl.search.optimize`` to keep the last SearchResult (for its timings)."""

    def __init__(self) -> None:
        import automl.search as search
        self.search, self.original, self.last = search, search.optimize, None

        def optimize(*args, **kwargs):
            self.last = self.original(*args, **kwargs)
            return self.last
        search.optimize = optimize


def run_ours(strategy, X, y, Xt, task, budget, n_jobs, seed, excluded: tuple[str, ...], capture: _Capture,
             options: dict | None = None):
    import knowledge_base as kb
    from automl import AutoML
    from leave_out import LeaveOut
    # leave-one-out: never retrieve the measured dataset (or a copy of it)
    model = AutoML(task=task, time_budget=budget, n_jobs=n_jobs, seed=seed, strategy=strategy,
                   warm_start=strategy == "warm", write_back=False,
                   knowledge_base=LeaveOut(kb.open_store(None), excluded), **(options or {}))
    capture.last = None
    model.fit(X, y)
    pred = model.predict_proba(Xt) if task != "regression" else model.predict(Xt)
    timings = dict(capture.last.timings) if capture.last is not None else {}
    timings["n_trials"] = len(capture.last.trials) if capture.last is not None else 0
    return pred, timings


def run_flaml(X, y, Xt, task, budget, n_jobs, seed):
    from flaml import AutoML as Flaml
    model = Flaml()
    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
    model.fit(X, y, task="regression" if task == "regression" else "classification", time_budget=budget,
              n_jobs=n_jobs, seed=seed, metric=metric, verbose=0)
    return model.predict_proba(Xt) if task != "regression" else model.predict(Xt)


AUTOGLUON_PYTHON = os.environ.get("AUTOGLUON_PYTHON", sys.executable)
_AG_WALL: list[float] = []


def run_autogluon(X, y, Xt, task, budget, n_jobs, seed, presets: str = "medium_quality"):
    """AutoGluon with ``presets`` in its own interpreter (``--autogluon-python``: it pins its own
    scikit-learn); the wall time is the fit + predict time measured inside that interpreter."""
    import json
    import subprocess
    worker = Path(__file__).resolve().parent / "peers" / "autogluon_worker.py"
    with tempfile.TemporaryDirectory(prefix="bench-ag-") as d:
        X.assign(__target__=np.asarray(y)).to_parquet(Path(d) / "train.parquet")
        Xt.to_parquet(Path(d) / "test.parquet")
        (Path(d) / "job.json").write_text(json.dumps({"task": task, "budget": budget, "n_jobs": n_jobs,
                                                      "seed": seed, "presets": presets}))
        done = subprocess.run([AUTOGLUON_PYTHON, str(worker), d], capture_output=True, text=True,
                              timeout=budget * 4 + 120)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "worker failed")
        _AG_WALL.append(json.loads((Path(d) / "timing.json").read_text())["wall"])
        return np.load(Path(d) / "pred.npy")


def run_optuna_lgbm(X, y, Xt, task, budget, n_jobs, seed):
    """TPE over LightGBM with our validation protocol (by size) and early stopping; the best refit with the
    mean early-stopped rounds, within the budget."""
    import lightgbm as lgb
    import optuna

    from automl.search.validation import choose_protocol, make_splits
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.monotonic()
    yv = np.asarray(y)
    splits = make_splits(yv, task, choose_protocol(len(yv)), seed)
    cls = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    _, score_fn, proba = metric_of(task)

    def objective(trial):
        params = dict(learning_rate=trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
                      num_leaves=trial.suggest_int("num_leaves", 4, 256, log=True),
                      min_child_samples=trial.suggest_int("min_child_samples", 2, 100, log=True),
                      colsample_bytree=trial.suggest_float("colsample_bytree", 0.3, 1.0),
                      reg_lambda=trial.suggest_float("reg_lambda", 1e-3, 10, log=True))
        scores, rounds = [], []
        for tr, va in splits:
            m = cls(n_estimators=1000, n_jobs=n_jobs, verbose=-1, random_state=seed, **params)
            m.fit(X.iloc[tr], yv[tr], eval_set=[(X.iloc[va], yv[va])],
                  callbacks=[lgb.early_stopping(50, verbose=False)])
            rounds.append(int(m.best_iteration_ or 1000))
            p = m.predict_proba(X.iloc[va]) if proba else m.predict(X.iloc[va])
            scores.append(score_fn(yv[va], p))
        trial.set_user_attr("rounds", int(np.mean(rounds)))
        return float(np.mean(scores))

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, timeout=max(0.5, budget * 0.75 - (time.monotonic() - start)))
    best = study.best_trial
    m = cls(n_estimators=best.user_attrs["rounds"], n_jobs=n_jobs, verbose=-1, random_state=seed, **best.params)
    m.fit(X, yv)
    return m.predict_proba(Xt) if proba else m.predict(Xt)


def run_lgbm_default(X, y, Xt, task, budget, n_jobs, seed):
    import lightgbm as lgb
    model = (lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier)(n_jobs=n_jobs, verbose=-1,
                                                                               random_state=seed)
    model.fit(X, y)
    return model.predict_proba(Xt) if task != "regression" else model.predict(Xt)


def run_constant(X, y, Xt, task, budget, n_jobs, seed):
    y = np.asarray(y)
    if task == "regression":
        return np.full(len(Xt), float(np.mean(y)))
    freq = np.bincount(y, minlength=int(y.max()) + 1) / len(y)
    return np.tile(freq, (len(Xt), 1))


PEERS = {"flaml": run_flaml, "autogluon": run_autogluon, "optuna-lgbm": run_optuna_lgbm,
         "lgbm-default": run_lgbm_default, "constant": run_constant}


def _busy_jiffies() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine, from /proc/stat (zeros where unavailable)."""
    try:
        with open("/proc/stat") as f:
            values = [float(v) for v in f.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0.0)
        return sum(values) - idle, sum(values)
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0


# ---------------------------------------------------------------------------------------------- report
def summarise(frame: pd.DataFrame, walls: dict, overheads: dict, budget: float, systems: list[str]) -> list[str]:
    lines = []
    if "constant" in frame:
        frame = frame.apply(lambda col: col.fillna(frame["constant"]))
    ranks = frame.rank(axis=1, ascending=False, method="average")
    best = frame.max(axis=1)
    const = frame["constant"] if "constant" in frame else frame.min(axis=1)
    norm = frame.sub(const, axis=0).div((best - const).replace(0, np.nan), axis=0)
    lines.append(f"{'system':14s} {'mean rank':>9s} {'mean norm':>9s} {'W/T/L vs flaml':>15s} {'overrun med':>11s} "
                 f"{'overrun max':>11s} {'overhead %':>10s}")
    for system in systems:
        wtl = "-"
        if "flaml" in frame and system != "flaml":
            diff = frame[system] - frame["flaml"]
            tol = 1e-4
            wtl = f"{(diff > tol).sum()}/{(diff.abs() <= tol).sum()}/{(diff < -tol).sum()}"
        over = [w - budget for w in walls[system] if w == w]
        med = statistics.median(over) if over else float("nan")
        mx = max(over) if over else float("nan")
        oh = overheads.get(system) or []
        oh_text = f"{100 * statistics.mean(oh) / budget:10.1f}" if oh else f"{'-':>10s}"
        lines.append(f"{system:14s} {ranks[system].mean():9.2f} {norm[system].mean():9.3f} {wtl:>15s} "
                     f"{med:+11.2f} {mx:+11.2f} {oh_text}")
    if all(s in frame for s in ("warm", "bo", "random")):
        better = ((frame["warm"] > frame["bo"]) & (frame["warm"] > frame["random"])).sum()
        lines.append(f"warm beats both bo and random on {better}/{len(frame)} datasets "
                     f"({100 * better / max(1, len(frame)):.0f} %; target >= 60 %)")
    return lines


# ---------------------------------------------------------------------------------------------- run
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pmlb_dir", type=Path)
    parser.add_argument("--datasets", default=None, help="comma-separated names (default: 24 datasets)")
    parser.add_argument("--quick", action="store_true", help=f"the 8 datasets {', '.join(QUICK_DATASETS)}")
    parser.add_argument("--systems", default="warm,bo,random,hyperband,flaml,optuna-lgbm,autogluon,lgbm-default,"
                                             "constant")
    parser.add_argument("--budget", type=float, default=30.0)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", default=None,
                        help="comma-separated seeds (overrides --seed): every dataset is split and fitted once per "
                             "seed, and a system's score on a dataset is its mean over the seeds (less split noise)")
    parser.add_argument("--kb", default=None, help="knowledge-base path (default: AUTOML_KB or a temporary store)")
    parser.add_argument("--out", type=Path, default=None, help="CSV of every score")
    parser.add_argument("--keep-own-dataset", action="store_true",
                        help="do not leave the measured dataset out of the knowledge base: an upper bound on what "
                             "retrieval can give (the seed evaluated every configuration on all its rows, test "
                             "rows included), never a figure to quote as warm's")
    parser.add_argument("--stacking", choices=("auto", "on", "off"), default="auto",
                        help="our systems' stacking parameter (auto: the product's default)")
    parser.add_argument("--exclude", default=None,
                        help="families or steps our systems never use (comma-separated), e.g. catboost,xgboost to "
                             "compare with a version that had no such families")
    parser.add_argument("--autogluon-python", default=None,
                        help="interpreter of a virtual environment with autogluon.tabular (default: this one)")
    return parser.parse_args(argv)


def ours_options(args: argparse.Namespace) -> dict:
    """The estimator parameters ``--stacking`` and ``--exclude`` give our systems."""
    options = {"stacking": {"auto": None, "on": True, "off": False}[args.stacking]}
    if args.exclude:
        options["exclude"] = tuple(n.strip() for n in args.exclude.split(",") if n.strip())
    return options


def chosen_systems(spec: str) -> list[str]:
    """The systems of ``--systems`` that run here, in their order: an unknown name ends the run, a peer that
    is not installed is skipped with a note."""
    systems = []
    for s in spec.split(","):
        if s not in OURS and s not in PEERS:
            raise SystemExit(f"unknown system {s!r}; valid: {', '.join(OURS + tuple(PEERS))}")
        if available(s):
            systems.append(s)
        else:
            print(f"# {s}: not installed (pip install -r benchmarks/requirements.txt), skipped", file=sys.stderr)
    return systems


@dataclass(frozen=True)
class Setting:
    """What every run shares: the budget and cores, our systems' estimator options and the ``optimize``
    wrapper (None when none of ours runs), and whether leave-one-out is off (``--keep-own-dataset``)."""
    budget: float
    n_jobs: int
    options: dict
    capture: _Capture | None
    keep_own_dataset: bool


@dataclass(frozen=True)
class Measured:
    """One dataset's split for one seed, and the task's score (greater = better)."""
    name: str
    seed: int
    task: str
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series
    score: Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Run:
    """One system on one split: its test score and wall seconds (NaN: it failed), the machine's busy cores
    meanwhile, and our systems' search timings."""
    score: float
    wall: float
    busy_cores: float
    timings: dict


@dataclass
class Runs:
    """Every run, by system: wall seconds, driver overheads, the score per (dataset, seed); and the CSV rows."""
    walls: dict[str, list[float]]
    overheads: dict[str, list[float]]
    per_split: dict[str, dict[tuple[str, int], float]]
    rows: list[dict] = field(default_factory=list)

    @classmethod
    def of(cls, systems: list[str]) -> Runs:
        return cls({s: [] for s in systems}, {s: [] for s in systems}, {s: {} for s in systems})

    def add(self, data: Measured, system: str, run: Run) -> None:
        self.per_split[system][(data.name, data.seed)] = run.score
        self.walls[system].append(run.wall)
        if "overhead_seconds" in run.timings:  # every second the driver computed, also while workers were busy
            self.overheads[system].append(float(run.timings["overhead_seconds"])
                                          + float(run.timings.get("prefetch_seconds", 0)))
        self.rows.append({"dataset": data.name, "seed": data.seed, "task": data.task, "system": system,
                          "score": run.score, "wall": run.wall, "busy_cores": run.busy_cores,
                          **{k: v for k, v in run.timings.items() if isinstance(v, (int, float))}})


def run_system(system: str, data: Measured, excluded: tuple[str, ...], setting: Setting) -> Run:
    """``system`` fitted on the split's training rows and scored on its test rows; a failing system scores
    NaN (then the constant predictor's score, in ``summarise``)."""
    busy0, total0 = _busy_jiffies()
    start = time.monotonic()
    timings = {}
    try:
        if system in OURS:
            pred, timings = run_ours(system, data.X_train, data.y_train, data.X_test, data.task, setting.budget,
                                     setting.n_jobs, data.seed, excluded, setting.capture, setting.options)
        else:
            pred = PEERS[system](data.X_train, data.y_train, data.X_test, data.task, setting.budget, setting.n_jobs,
                                 data.seed)
        wall = time.monotonic() - start
        if system == "autogluon":
            wall = _AG_WALL.pop()  # without the interpreter's start and AutoGluon's import
        s = float(data.score(data.y_test.to_numpy(), np.asarray(pred)))
    except Exception as exc:  # a failing system scores as the constant predictor
        print(f"# {system} failed on {data.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        s, wall = float("nan"), float("nan")
    busy1, total1 = _busy_jiffies()
    cores = (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1) if total1 > total0 else float("nan")
    return Run(score=s, wall=wall, busy_cores=cores, timings=timings)


def run_datasets(pmlb: Path, names: list[str], seeds: list[int], systems: list[str], task_of: dict,
                 setting: Setting) -> Runs:
    """Every system on every (dataset, seed) split, one printed line per split."""
    from fits import split
    runs = Runs.of(systems)
    excluded: dict[str, tuple[str, ...]] = {}  # dataset -> the stored datasets its leave-one-out leaves out
    for name, seed in [(n, sd) for n in names for sd in seeds]:
        if name not in task_of:
            print(f"# skip {name}: not in summary.csv", file=sys.stderr)
            continue
        X, y, task = load(pmlb, name, task_of)
        Xtr, Xte, ytr, yte = split(X, y, task, seed)
        metric, score_fn, _ = metric_of(task)
        data = Measured(name, seed, task, Xtr, Xte, ytr, yte, score_fn)
        line = [f"{name[:24]:24s} {task[:5]:5s} {metric:8s} n={len(X):<6d}" + (f" s{seed}" if len(seeds) > 1 else "")]
        if name not in excluded and setting.capture is not None:  # one of ours runs; before the clock: in no wall time
            excluded[name] = () if setting.keep_own_dataset else left_out(pmlb, name, task_of)
        for system in systems:
            run = run_system(system, data, excluded.get(name, ()), setting)  # excluded: read by ours only
            runs.add(data, system, run)
            extra = f",{run.timings.get('n_trials', 0)}t" if system in OURS else ""
            line.append(f"{system}={run.score:.4f}({run.wall:.1f}s{extra})")
        print(" ".join(line), flush=True)
    return runs


def report(runs: Runs, args: argparse.Namespace, seeds: list[int], systems: list[str]) -> int:
    """The summary printed (and every run written to ``--out``); 1 when no dataset was run."""
    per_seed = pd.DataFrame(runs.per_split)  # (dataset, seed) rows; a dataset's score is its mean over the seeds,
    # NaN when a split failed (then the constant's score, in summarise)
    frame = per_seed.groupby(level=0, sort=False).agg(lambda col: col.to_numpy().mean()) if len(per_seed) else per_seed
    if frame.empty:
        print("no dataset was run")
        return 1
    if args.out:
        pd.DataFrame(runs.rows).to_csv(args.out, index=False)
    busy = [r["busy_cores"] for r in runs.rows if r["busy_cores"] == r["busy_cores"]]
    print(f"\nbudget {args.budget:g}s, n_jobs {args.n_jobs}, {len(frame)} datasets; machine busy cores during runs: "
          f"median {statistics.median(busy) if busy else float('nan'):.2f} of {os.cpu_count()}")
    if len(seeds) > 1:
        print(f"(scores: mean over the {len(seeds)} splits of each dataset)")
    for line in summarise(frame, runs.walls, runs.overheads, args.budget, systems):
        print(line)
    if len(seeds) > 1 and all(s in systems for s in ("warm", "bo", "random")):
        better = ((per_seed["warm"] > per_seed["bo"]) & (per_seed["warm"] > per_seed["random"])).sum()
        print(f"per split: warm beats both bo and random on {better}/{len(per_seed)} (dataset, seed) pairs")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    global AUTOGLUON_PYTHON
    if args.autogluon_python:
        AUTOGLUON_PYTHON = args.autogluon_python
    use_knowledge_base(args.kb)
    options = ours_options(args)
    task_of = tasks_of(pd.read_csv(args.pmlb_dir / "summary.csv"))
    names = args.datasets.split(",") if args.datasets else (QUICK_DATASETS if args.quick else DEFAULT_DATASETS)
    systems = chosen_systems(args.systems)
    capture = _Capture() if any(s in OURS for s in systems) else None
    if capture is not None:
        from automl.search.runner import warm_up
        warm_up()  # the worker processes' imports: once per benchmark, as in a long-lived process
    seeds = [int(v) for v in args.seeds.split(",")] if args.seeds else [args.seed]
    print(f"# budget {args.budget:g}s, n_jobs {args.n_jobs}, seed {', '.join(map(str, seeds))}, "
          f"systems {', '.join(systems)}", flush=True)
    setting = Setting(args.budget, args.n_jobs, options, capture, args.keep_own_dataset)
    runs = run_datasets(args.pmlb_dir, names, seeds, systems, task_of, setting)
    return report(runs, args, seeds, systems)


if __name__ == "__main__":
    raise SystemExit(main())
