"""Knowledge-base speed against its size: open, retrieval, write-back of 500 evaluations.

    python benchmarks/bench_knowledge_base.py [--sizes 100,1000,10000] [--repeats 9]

For each size a store is synthesised in bulk through the public ``import_`` (exchange Parquet built
with Arrow, never row by row): datasets with 40 meta-features in clusters, 60 % binary / 25 %
multiclass / 15 % regression, 100 evaluations each (30 from a shared pool of 2,000 portfolio
configurations, 70 unique search configurations at fidelities 1/9, 1/3, 1; 5 % failed), so
10,000 datasets hold 1,000,000 evaluations and ~700,000 configurations.

Measured (median and 90th percentile over ``--repeats``, milliseconds):
* open: ``open_store(path)`` on an existing file (validation included);
* similar + suggest: ``store.similar(k=5)`` then ``store.suggest(n=10, k=10)`` (two connections);
* retrieve: ``store.retrieve`` (neighbours, suggestions and prior observations in one connection,
  what ``automl fit`` calls);
* write 500: ``store.record_run`` of a new dataset with 500 new evaluations (one transaction).
Each cell: wall-clock median (90th percentile) and the median CPU time of this process (DuckDB's
threads included). The machine is shared: the last column is other processes' CPU seconds during
the size's measurements (from /proc/stat), so a slow wall-clock figure can be told from a busy
machine (CPU time is what the work costs on a quiet one).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import knowledge_base as kb  # noqa: E402
from knowledge_base._exchange import SCHEMAS, write_folder  # noqa: E402

N_FEATURES = 40
NAMES = [f"mf_{i:02d}" for i in range(N_FEATURES)]
VERSION = "bench-1"
PER_DATASET = 100
POOL = 2000
FROM_POOL = 30
METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
FAMILIES = ["lightgbm", "extra_trees", "random_forest", "linear", "knn", "mlp"]


def _config_texts(rng: np.random.Generator, n: int, offset: int) -> tuple[list[str], list[str], list[str]]:
    """Canonical JSON texts (sorted keys, short floats), their ids and families, without json.dumps per row."""
    fam = rng.integers(0, len(FAMILIES), n)
    lr = np.round(10 ** rng.uniform(-3, 0, n), 4)
    leaves = rng.integers(2, 256, n)
    texts = [f'{{"family":"{FAMILIES[f]}","learning_rate":{float(a)!r},"num_leaves":{int(b)},"tag":{offset + i}}}'
             for i, (f, a, b) in enumerate(zip(fam, lr, leaves))]
    ids = [hashlib.sha256(t.encode()).hexdigest()[:16] for t in texts]
    return texts, ids, [FAMILIES[f] for f in fam]


def synthesise(directory: Path, n_datasets: int, seed: int = 0) -> dict[str, int]:
    """Write an exchange folder with ``n_datasets`` datasets and ``PER_DATASET`` evaluations each."""
    rng = np.random.default_rng(seed)
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    tasks = rng.choice(["binary", "multiclass", "regression"], n_datasets, p=[0.6, 0.25, 0.15])
    centres = rng.normal(scale=3.0, size=(max(1, n_datasets // 50), N_FEATURES))
    points = centres[rng.integers(0, len(centres), n_datasets)] + rng.normal(size=(n_datasets, N_FEATURES))
    fps = [hashlib.sha256(f"bench-{seed}-{i}".encode()).hexdigest()[:32] for i in range(n_datasets)]
    mf_json = ["{" + ",".join(f'"{n}":{v:.6g}' for n, v in zip(NAMES, row)) + "}" for row in points]
    datasets = pa.table({
        "fingerprint": fps, "name": [f"dataset-{i}" for i in range(n_datasets)],
        "source": pa.array(np.where(rng.random(n_datasets) < 0.5, "openml", "local")), "task": tasks,
        "n_rows": rng.integers(100, 100_000, n_datasets), "n_features": rng.integers(2, 200, n_datasets),
        "metafeatures": mf_json, "metafeatures_version": [VERSION] * n_datasets, "extra": ["{}"] * n_datasets,
        "created_at": pa.array([now] * n_datasets, pa.timestamp("us")),
        "updated_at": pa.array([now] * n_datasets, pa.timestamp("us"))}, schema=SCHEMAS["datasets"])

    pool_texts, pool_ids, pool_fams = _config_texts(rng, POOL, 0)
    n_unique = PER_DATASET - FROM_POOL
    own_texts, own_ids, own_fams = _config_texts(rng, n_datasets * n_unique, POOL)
    texts, ids, fams = pool_texts + own_texts, pool_ids + own_ids, pool_fams + own_fams
    configurations = pa.table({"config_id": ids, "config": texts, "family": fams,
                               "space_version": ["1"] * len(ids),
                               "created_at": pa.array([now] * len(ids), pa.timestamp("us"))},
                              schema=SCHEMAS["configurations"])

    n = n_datasets * PER_DATASET
    ds = np.repeat(np.arange(n_datasets), PER_DATASET)
    slot = np.tile(np.arange(PER_DATASET), n_datasets)
    from_pool = slot < FROM_POOL
    config_index = np.where(from_pool, rng.integers(0, POOL, n), POOL + ds * n_unique + (slot - FROM_POOL))
    fidelity = np.where(from_pool, 1.0, rng.choice([1 / 9, 1 / 3, 1.0], n))
    ok = rng.random(n) >= 0.05
    base = rng.normal(size=n_datasets)[ds]
    loss = np.where(ok, base + rng.gamma(2.0, 0.1, n) / fidelity, np.nan)
    task_of = tasks[ds]
    run_ids = [f"run-{i}" for i in range(n_datasets)]
    evaluations = pa.table({
        "run_id": pa.array(np.asarray(run_ids, dtype=object)[ds]), "seq": pa.array(slot, pa.int32()),
        "fingerprint": pa.array(np.asarray(fps, dtype=object)[ds]),
        "config_id": pa.array(np.asarray(ids, dtype=object)[config_index]), "space_version": ["1"] * n,
        "fidelity": fidelity, "protocol": ["cv5"] * n,
        "metric": pa.array(np.vectorize(METRIC.get)(task_of)), "score": pa.array(-loss, from_pandas=True),
        "loss": pa.array(loss, from_pandas=True), "fit_seconds": rng.gamma(2.0, 1.0, n),
        "status": pa.array(np.where(ok, "ok", "failed")), "error": pa.array(np.where(ok, None, "boom")),
        "seed": np.zeros(n, dtype=np.int64), "library_version": ["bench"] * n,
        "created_at": pa.array([now] * n, pa.timestamp("us")), "origin": ["bench"] * n}, schema=SCHEMAS["evaluations"])
    runs = pa.table({"run_id": run_ids, "kind": ["refresh"] * n_datasets, "source": ["local"] * n_datasets,
                     "started_at": pa.array([now] * n_datasets, pa.timestamp("us")),
                     "finished_at": pa.array([now] * n_datasets, pa.timestamp("us")),
                     "budget_seconds": np.full(n_datasets, 60.0), "settings": ["{}"] * n_datasets,
                     "versions": ["{}"] * n_datasets, "fingerprint": fps,
                     "n_evaluations": pa.array(np.full(n_datasets, PER_DATASET), pa.int32()),
                     "recorded_at": pa.array([now] * n_datasets, pa.timestamp("us"))}, schema=SCHEMAS["runs"])
    write_folder(directory, {"datasets": datasets, "configurations": configurations, "runs": runs,
                             "evaluations": evaluations})
    return {"datasets": n_datasets, "configurations": len(ids), "evaluations": n}


def _busy_jiffies() -> int:
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return 0
    return sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)  # minus idle and iowait


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


def timed(fn, repeats: int) -> tuple[float, float, float]:
    """Median and 90th-percentile wall time and median CPU time of this process (DuckDB threads included), ms."""
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    times.sort()
    p90 = times[min(len(times) - 1, int(round(0.9 * (len(times) - 1))))]
    return statistics.median(times) * 1000, p90 * 1000, statistics.median(cpu) * 1000


def write_record(i: int, rng: np.random.Generator):
    now = datetime.now(timezone.utc)
    mf = {n: float(v) for n, v in zip(NAMES, rng.normal(scale=3.0, size=N_FEATURES))}
    dataset = kb.DatasetRecord(fingerprint=f"new-{i}-{rng.integers(1 << 60)}", name=f"new {i}", source="local",
                               task="binary", n_rows=1000, n_features=20, metafeatures=mf,
                               metafeatures_version=VERSION)
    evaluations = [kb.EvaluationRecord(
        config={"family": "lightgbm", "learning_rate": float(rng.uniform(0.001, 1)), "num_leaves": int(j), "i": i},
        family="lightgbm", space_version="1", fidelity=float(rng.choice([1 / 9, 1 / 3, 1.0])), protocol="cv5",
        metric="roc_auc", score=float(rng.uniform(0.5, 1)), loss=None, fit_seconds=0.5, status="ok", error=None,
        seed=0, library_version="bench") for j in range(500)]
    evaluations = [kb.EvaluationRecord(**{**e.__dict__, "loss": -e.score}) for e in evaluations]
    run = kb.RunRecord(run_id=f"bench-write-{i}-{rng.integers(1 << 60)}", kind="fit", started_at=now,
                       finished_at=now, budget_seconds=60.0, settings={}, versions={})
    return run, dataset, evaluations


def bench_size(size: int, repeats: int, workdir: Path) -> dict:
    folder = workdir / f"export-{size}"
    t0 = time.perf_counter()
    made = synthesise(folder, size)
    t_synth = time.perf_counter() - t0
    path = workdir / f"kb-{size}.duckdb"
    t0 = time.perf_counter()
    store = kb.open_store(path, seed_dir=None)
    store.import_(folder)
    t_build = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    queries = [{n: float(v) for n, v in zip(NAMES, rng.normal(scale=3.0, size=N_FEATURES))} for _ in range(repeats)]
    q = iter(queries * 4)
    busy0, own0 = _busy_jiffies(), _own_seconds()
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    kb.open_store(path, seed_dir=None)  # warm the page cache and imports
    row = {"datasets": size, "evaluations": made["evaluations"], "configurations": made["configurations"],
           "synth_s": t_synth, "build_s": t_build, "size_mb": path.stat().st_size / 1e6}
    row["open"] = timed(lambda: kb.open_store(path, seed_dir=None), repeats)
    common = {"metafeatures_version": VERSION}

    def similar_suggest():
        mf = next(q)
        store.similar(mf, "binary", k=5, **common)
        store.suggest(mf, "binary", "roc_auc", n=10, k=10, **common)

    row["similar+suggest"] = timed(similar_suggest, repeats)
    sizes = []

    def retrieve():
        neighbours, suggestions, prior = store.retrieve(next(q), "binary", "roc_auc", n=10, k=10, **common)
        sizes.append((len(neighbours), len(suggestions), len(prior)))

    row["retrieve"] = timed(retrieve, repeats)
    row["returned"] = sizes[-1]
    writes = iter([write_record(i, rng) for i in range(repeats)])  # records built outside the timing
    row["write 500"] = timed(lambda: store.record_run(*next(writes)), repeats)
    own = _own_seconds() - own0
    row["others_cpu_s"] = max(0.0, (_busy_jiffies() - busy0) / tick - own)
    problems = store.check() if size <= 1000 else []
    row["check"] = "ok" if not problems else "; ".join(problems)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="numbers of datasets, comma-separated")
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--keep", default=None, help="folder to keep the synthesised stores in")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"knowledge-base benchmark: {N_FEATURES} meta-features, {PER_DATASET} evaluations per dataset, "
          f"{args.repeats} repeats, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    header = (f"{'datasets':>9} {'evals':>9} {'configs':>8} {'file MB':>8} {'build s':>8} | "
              f"{'open ms':>19} {'similar+suggest':>19} {'retrieve ms':>19} {'write 500 ms':>19} | "
              f"{'others CPU s':>12}")
    print(header + "\n" + "-" * len(header), flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kb-bench-", dir=args.keep) as tmp:
        for size in sizes:
            row = bench_size(size, args.repeats, Path(tmp))
            rows.append(row)
            cell = lambda key: f"{row[key][0]:5.0f} ({row[key][1]:4.0f}) {row[key][2]:4.0f}"  # noqa: E731
            print(f"{row['datasets']:9d} {row['evaluations']:9d} {row['configurations']:8d} {row['size_mb']:8.1f} "
                  f"{row['build_s']:8.1f} | {cell('open'):>19} {cell('similar+suggest'):>19} {cell('retrieve'):>19} "
                  f"{cell('write 500'):>19} | {row['others_cpu_s']:12.1f}", flush=True)
            if row["check"] != "ok":
                print(f"  check: {row['check']}")
    print("cells: wall-clock median (90th percentile) and CPU median of this process, ms; retrieve returned "
          "(neighbours, suggestions, prior) = "
          f"{rows[-1]['returned'] if rows else '-'}")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = last["evaluations"] / first["evaluations"]
        print(f"growth from {first['datasets']} to {last['datasets']} datasets (x{growth:.0f} evaluations): " +
              ", ".join(f"{k} x{last[k][0] / first[k][0]:.1f}" for k in ("open", "similar+suggest", "retrieve",
                                                                           "write 500")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
