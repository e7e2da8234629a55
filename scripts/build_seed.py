"""Build the bundled knowledge base (``knowledge_base/seed/``) from a folder of datasets, in resumable chunks.

    nice -n 10 python scripts/build_seed.py --from-dir ../shared/datasets/pmlb --store /tmp/kb-build/kb.duckdb \
        --n-jobs 2 --budget 4 --chunk 40 --export

Each chunk is one ``automl kb refresh --from-dir ... --limit CHUNK`` (same library call): a crash or
Ctrl-C loses at most the datasets in flight; running the script again continues where it stopped.
The build store starts empty, or with ``--from-seed`` from the bundled seed (to extend a seed whose
build store is gone; the datasets it holds are skipped by fingerprint, or given only the candidates of the
grown pool they lack). Run it with ``automl-meta[boost]`` installed: the pool's CatBoost and XGBoost candidates
exist only where those families are registered. ``--export`` then writes the
store's Parquet export, the candidate pool (``candidates.json``) and the greedy portfolio
(``portfolio.json``) into ``knowledge_base/seed/`` and checks that a fresh store loads it.
See docs/knowledge-base.md.
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SEED_DIR = REPO / "knowledge_base" / "seed"
MAX_SEED_BYTES = 20 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-dir", default=str(REPO.parent / "shared" / "datasets" / "pmlb"))
    parser.add_argument("--store", default="/tmp/kb-build/kb.duckdb")
    parser.add_argument("--budget", type=float, default=4.0, help="seconds of real search per dataset")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=40, help="datasets per resumable chunk")
    parser.add_argument("--max-rows", type=int, default=2000)
    parser.add_argument("--from-seed", action="store_true",
                        help="a new build store starts from knowledge_base/seed (extend the bundled seed)")
    parser.add_argument("--export", action="store_true", help="write knowledge_base/seed/ at the end")
    parser.add_argument("--export-only", action="store_true", help="skip the refresh, only export")
    parser.add_argument("--transfer-from", default=None,
                        help="copy every run of another build store (any schema this script can read with plain "
                             "SQL) into --store through record_run, then stop; for stores written by an older "
                             "version of the knowledge-base code")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("automl").setLevel(logging.ERROR)  # dropped-column notes of 239 datasets
    logging.getLogger("automl.refresh").setLevel(logging.INFO)
    import knowledge_base as kb
    from automl.refresh import RefreshOptions, candidates_document, refresh_from_dir
    from automl.space import SPACE_VERSION
    import metafeatures

    from automl.models import REGISTRY
    from automl.refresh.candidates import CANDIDATE_LATER_FAMILIES
    absent = [key for key in CANDIDATE_LATER_FAMILIES if key not in REGISTRY]
    if absent:
        logging.warning("%s not installed: the seed's pool will lack their candidates (pip install "
                        "'automl-meta[boost]')", ", ".join(absent))
    store = kb.open_store(args.store, seed_dir=SEED_DIR if args.from_seed else None)
    if args.transfer_from:
        n_runs, n_evals = transfer(args.transfer_from, store)
        logging.info("transferred %d run(s), %d evaluation(s) from %s into %s", n_runs, n_evals, args.transfer_from,
                     store.path)
        return 0
    failed_total = 0
    if not args.export_only:
        chunk = 0
        while True:
            chunk += 1
            started = time.monotonic()
            options = RefreshOptions(budget=args.budget, limit=args.chunk, n_jobs=args.n_jobs,
                                     max_rows=args.max_rows, rebuild_portfolio=False, check=False)
            summary = refresh_from_dir(args.from_dir, store=store, options=options)
            d = summary.to_dict()
            logging.info("chunk %d: added %d, updated %d, skipped %d, failed %d, left %d (%.0fs)", chunk, d["added"],
                         d["updated"], d["skipped"], d["failed"], d["not_reached"], time.monotonic() - started)
            for o in summary.outcomes:
                if o.status == "failed":
                    logging.warning("failed: %s: %s", o.name, o.reason)
            failed_total = d["failed"]
            if summary.not_reached == 0:
                break
    if args.export or args.export_only:
        configs, task_ids = pool_of(store)
        export(store, SPACE_VERSION, metafeatures.METAFEATURES_VERSION, candidates_document(configs, task_ids=task_ids))
    return 1 if failed_total and not args.export_only else 0


def transfer(raw_path: str, store) -> tuple[int, int]:
    """Read a build store with plain SQL and write its runs into ``store`` with the current records API."""
    import json as _json
    from datetime import datetime

    import duckdb

    import knowledge_base as kb
    con = duckdb.connect(raw_path, read_only=True)

    def frame(table):
        return con.execute(f"SELECT * FROM {table}").df()
    ds, cf, ev, runs = frame("datasets"), frame("configurations"), frame("evaluations"), frame("runs")
    con.close()
    if "fingerprint" not in ds:
        ds["fingerprint"] = ds["dataset_id"]
    by_key = dict(zip(ds["dataset_id"], ds["fingerprint"])) if "dataset_id" in ds else {}
    if "fingerprint" not in ev:
        ev["fingerprint"] = ev["dataset_id"].map(by_key)
    ckey = "config_id" if "config_id" in cf else "config_key"
    ctext = "config" if "config" in cf else "config_json"
    configs = {row[ckey]: (_json.loads(row[ctext]), row["family"], row["space_version"]) for _, row in cf.iterrows()}
    ev_key = "config_id" if "config_id" in ev else "config_key"
    datasets = {}
    for _, d in ds.iterrows():
        mf = {k: (float("nan") if v is None else float(v)) for k, v in _json.loads(d["metafeatures"] or "{}").items()}
        datasets[d["fingerprint"]] = kb.records.DatasetRecord(
            fingerprint=d["fingerprint"], name=d["name"], source=d["source"], task=d["task"], n_rows=int(d["n_rows"]),
            n_features=int(d["n_features"]), metafeatures=mf, metafeatures_version=str(d["metafeatures_version"]),
            extra=_json.loads(d["extra"] or "{}"))
    n_runs = n_evals = 0
    order = "seq" if "seq" in ev else "created_at"
    for _, r in runs.iterrows():
        rows = ev[ev["run_id"] == r["run_id"]].sort_values(order)
        fp = r["fingerprint"] if "fingerprint" in r and r["fingerprint"] else (rows["fingerprint"].iloc[0] if len(rows)
                                                                              else None)
        evaluations = []
        for _, e in rows.iterrows():
            config, family, space_version = configs[e[ev_key]]
            evaluations.append(kb.records.EvaluationRecord(
                config=config, family=family, space_version=str(e.get("space_version") or space_version),
                fidelity=float(e["fidelity"]), protocol=e["protocol"], metric=e["metric"],
                score=None if e["score"] != e["score"] else e["score"],
                loss=None if e["loss"] != e["loss"] else e["loss"], fit_seconds=float(e["fit_seconds"] or 0.0),
                status=e["status"], error=e["error"] if isinstance(e["error"], str) else None, seed=int(e["seed"]),
                library_version=e["library_version"], created_at=e["created_at"].to_pydatetime()
                if hasattr(e["created_at"], "to_pydatetime") else None, origin=e["origin"]))
        when = lambda t: t.to_pydatetime() if hasattr(t, "to_pydatetime") else datetime.fromisoformat(str(t))  # noqa
        run = kb.records.RunRecord(run_id=r["run_id"], kind=r["kind"], started_at=when(r["started_at"]),
                                   finished_at=when(r["finished_at"]), budget_seconds=r["budget_seconds"],
                                   settings=_json.loads(r["settings"] or "{}"), versions=_json.loads(r["versions"] or "{}"),
                                   source=r["source"] or "local")
        n_evals += store.record_run(run, datasets.get(fp), evaluations)
        n_runs += 1
    return n_runs, n_evals


def pool_of(store) -> tuple[list[dict], dict[str, list[str]]]:
    """The candidate pool the build store was last refreshed with: per task, the canonical ids of its latest
    refresh run of that task (a run's ``candidate_ids`` are its task's), and their configurations in order."""
    import json as _json
    runs = store.runs()
    task_ids: dict[str, list[str]] = {}
    for settings in runs[runs["kind"] == "refresh"]["settings"]:  # oldest first
        if settings.get("candidate_ids") and settings.get("task"):
            task_ids[settings["task"]] = list(settings["candidate_ids"])
    if not task_ids:
        raise SystemExit("the build store has no refresh run with a candidate pool")
    ev = store.evaluations(origin="candidate")
    configs = {cid: _json.loads(c) for cid, c in zip(ev["config_id"], ev["config"])}
    ids = list(dict.fromkeys(i for task in sorted(task_ids) for i in task_ids[task]))
    missing = [i for i in ids if i not in configs]
    if missing:
        raise SystemExit(f"{len(missing)} pool configuration(s) have no evaluation in the build store")
    return [configs[i] for i in ids], task_ids


def export(store, space_version: str, mf_version: str, candidates: dict) -> None:
    import knowledge_base as kb
    from automl.refresh import rebuild_portfolio
    problems = store.check()
    if problems:
        raise SystemExit(f"store check failed: {problems}")
    store.compact()
    tmp = Path(tempfile.mkdtemp(prefix="seed-"))
    counts = store.export(tmp)
    rebuild_portfolio(store, out=tmp / "portfolio.json")
    (tmp / "candidates.json").write_text(json.dumps(candidates, indent=1, sort_keys=True))
    info = {"space_version": str(space_version), "metafeatures_version": str(mf_version), "counts": counts,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "source": "PMLB via scripts/build_seed.py (see docs/knowledge-base.md)"}
    (tmp / "seed_info.json").write_text(json.dumps(info, indent=1, sort_keys=True))
    size = sum(p.stat().st_size for p in tmp.iterdir())
    if size > MAX_SEED_BYTES:
        raise SystemExit(f"seed would be {size / 1e6:.1f} MB, over the {MAX_SEED_BYTES / 1e6:.0f} MB limit")
    SEED_DIR.mkdir(parents=True, exist_ok=True)
    for old in list(SEED_DIR.glob("*.parquet")) + list(SEED_DIR.glob("*.json")):
        old.unlink()
    for f in tmp.iterdir():
        shutil.copy2(f, SEED_DIR / f.name)
    shutil.rmtree(tmp, ignore_errors=True)
    # a fresh store must load the seed
    with tempfile.TemporaryDirectory() as d:
        fresh = kb.open_store(Path(d) / "kb.duckdb")
        got = fresh.info()
    if got["n_evaluations"] != counts["evaluations"] or got["n_datasets"] != counts["datasets"]:
        raise SystemExit(f"a fresh store loaded {got} from the seed, expected {counts}")
    logging.info("seed written to %s: %.2f MB, %s; a fresh store loads it (%d datasets, %d evaluations)",
                 SEED_DIR, size / 1e6, counts, got["n_datasets"], got["n_evaluations"])


if __name__ == "__main__":
    raise SystemExit(main())
