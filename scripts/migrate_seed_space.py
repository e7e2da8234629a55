"""Rewrite the bundled knowledge base (``knowledge_base/seed/``) into the current search-space version.

    python scripts/migrate_seed_space.py [--seed-dir knowledge_base/seed]

Configurations and evaluations of an earlier version are mapped by ``automl.models.upgrade_tables``
(inactive parameters dropped, renamed meanings translated; every evaluation kept under its configuration's
new id); the candidate pool is mapped too, the portfolio is rebuilt from the mapped candidate evaluations
(``automl.refresh.rebuild_portfolio``), and a fresh store must load the result. Prints the counts before and
after. Running it on a seed already in the current version changes nothing but the dates.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MAX_SEED_BYTES = 20 * 1024 * 1024
TASKS = ("binary", "multiclass", "regression")


def _rewrite(path: Path, frame) -> None:
    """``frame`` written over the Parquet file ``path`` with that file's schema and metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    schema = pq.read_schema(path)
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path)


def pool(configs: list[dict]) -> tuple[list[dict], dict[str, list[str]]]:
    """The candidate pool in the current space: each candidate as it is read by a task-free refresh (task
    clauses hold), plus its form for every task where it built something else (the old linear regressor
    was an elastic net); first occurrence kept. And per task the ids of each candidate's form for that task
    (``upgrade_config(c, task)``: the ids its evaluations were mapped to), in pool order: what the refresh
    evaluates a dataset of the task on (``automl.refresh.candidates.task_candidates``)."""
    from automl.models import REGISTRY, upgrade_config
    from knowledge_base.canonical import config_id
    out, seen = [], set()
    task_ids: dict[str, list[str]] = {task: [] for task in TASKS}
    for c in configs:
        forms = [upgrade_config(c, None)]
        forms += [f for task in TASKS if (f := upgrade_config(c, task)) is not None
                  and upgrade_config(forms[0], task) != f]
        for f in forms:
            if f is not None and config_id(f) not in seen:
                seen.add(config_id(f))
                out.append(f)
        for task in TASKS:
            form = upgrade_config(c, task) if c.get("family") in REGISTRY else None
            if form is not None and task in REGISTRY.get(form["family"]).tasks \
                    and config_id(form) not in task_ids[task]:
                task_ids[task].append(config_id(form))
    return out, task_ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-dir", default=str(REPO / "knowledge_base" / "seed"))
    args = parser.parse_args(argv)
    import pyarrow.parquet as pq

    import knowledge_base as kb
    from automl.models import upgrade_tables
    from automl.refresh import rebuild_portfolio
    from automl.space import SPACE_VERSION
    from knowledge_base.canonical import config_id

    seed = Path(args.seed_dir)
    configurations = pq.read_table(seed / "configurations.parquet").to_pandas()
    evaluations = pq.read_table(seed / "evaluations.parquet").to_pandas()
    datasets = pq.read_table(seed / "datasets.parquet").to_pandas()
    size_before = sum(p.stat().st_size for p in seed.iterdir())
    configs, evals, report = upgrade_tables(configurations, evaluations, dict(zip(datasets["fingerprint"],
                                                                                 datasets["task"])))
    _rewrite(seed / "configurations.parquet", configs)
    _rewrite(seed / "evaluations.parquet", evals)

    candidates = json.loads((seed / "candidates.json").read_text(encoding="utf-8"))
    mapped, task_ids = pool(candidates["configs"])
    report["candidates_before"], report["candidates_after"] = len(candidates["configs"]), len(mapped)
    candidates.update(space_version=str(SPACE_VERSION), configs=mapped, config_ids=[config_id(c) for c in mapped],
                      task_config_ids=task_ids)
    (seed / "candidates.json").write_text(json.dumps(candidates, indent=1, sort_keys=True))

    info = json.loads((seed / "seed_info.json").read_text(encoding="utf-8"))
    counts = {**info["counts"], "configurations": len(configs), "evaluations": len(evals)}
    info.update(space_version=str(SPACE_VERSION), counts=counts,
                migrated=f"space version {info.get('space_version')} -> {SPACE_VERSION} by "
                         f"scripts/migrate_seed_space.py, {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
    (seed / "seed_info.json").write_text(json.dumps(info, indent=1, sort_keys=True))

    with tempfile.TemporaryDirectory() as d:  # a fresh store loads the seed; its candidates make the portfolio
        store = kb.open_store(Path(d) / "kb.duckdb", seed_dir=seed)
        got = store.info()
        if got["n_evaluations"] != counts["evaluations"] or got["n_datasets"] != counts["datasets"]:
            raise SystemExit(f"a fresh store loaded {got} from the seed, expected {counts}")
        if rebuild_portfolio(store, out=seed / "portfolio.json") is None:
            raise SystemExit("no candidate evaluation in the migrated seed: no portfolio")
    report["bytes_before"] = size_before
    report["bytes_after"] = sum(p.stat().st_size for p in seed.iterdir())
    if report["bytes_after"] > MAX_SEED_BYTES:
        raise SystemExit(f"seed is {report['bytes_after'] / 1e6:.1f} MB, over the limit")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
