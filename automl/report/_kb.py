"""The knowledge-base report: what the store knows, a map of the meta-feature space, who wins where.

Reads the store only through the knowledge base's public API (``open_store``, ``info``, ``similar``,
``export``); the figures work from two plain tables (datasets with meta-features, evaluations).
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from . import _data as D
from . import _figures as F
from ._page import Page, esc, img, kv_table, note, table

log = logging.getLogger("automl")


def kb_tables(store: Any) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(datasets, evaluations, meta-feature names) read through the store's public ``export``.

    ``datasets``: one row per dataset (``fingerprint``, ``name``, ``source``, ``task``, ``n_rows``,
    ``n_features``, ``metafeatures_version``) plus one column per meta-feature. ``evaluations``: one row
    per evaluation with ``fingerprint`` and the configuration's ``family``.
    """
    with tempfile.TemporaryDirectory(prefix="automl-kb-report-") as tmp:
        store.export(tmp)
        tables = {name: _read(Path(tmp) / f"{name}.parquet") for name in ("datasets", "evaluations",
                                                                            "configurations")}
    datasets, evaluations, configs = tables["datasets"], tables["evaluations"], tables["configurations"]
    datasets = datasets.rename(columns={"dataset_id": "fingerprint"})
    evaluations = evaluations.rename(columns={"dataset_id": "fingerprint"})
    if "family" not in evaluations.columns and {"config_id", "family"} <= set(configs.columns) \
            and "config_id" in evaluations.columns:
        families = configs.drop_duplicates("config_id").set_index("config_id")["family"]
        evaluations["family"] = evaluations["config_id"].map(families)
    datasets, names = _flatten_metafeatures(datasets)
    return datasets, evaluations, names


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def _flatten_metafeatures(datasets: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The ``metafeatures`` JSON column spread into one column per meta-feature (``FEATURE_NAMES`` first)."""
    if datasets is None or datasets.empty:
        return pd.DataFrame(columns=["fingerprint", "task", "n_rows"]), []
    import json
    try:
        from metafeatures import FEATURE_NAMES
        known = list(FEATURE_NAMES)
    except Exception:  # the map then uses whatever meta-features the store holds
        known = []
    frame = datasets.reset_index(drop=True)
    if "metafeatures" not in frame.columns:
        return frame.drop(columns=["mf_values"], errors="ignore"), []
    parsed = frame["metafeatures"].map(lambda v: json.loads(v) if isinstance(v, str) else (v or {}))
    wide = pd.DataFrame(list(parsed), index=frame.index)
    wide = wide[[c for c in wide.columns if c not in frame.columns]].apply(pd.to_numeric, errors="coerce")
    frame = pd.concat([frame.drop(columns=["metafeatures", "mf_values"], errors="ignore"), wide], axis=1)
    names = [c for c in known if c in wide.columns] + [c for c in wide.columns if c not in known]
    return frame, names


def _new_dataset(X: pd.DataFrame, y: Any, task: str | None) -> tuple[dict, str]:
    """Meta-features and task of a raw table, as a fit of it would record them."""
    from ..prepare import prepare
    table = prepare(X, pd.Series(y), task)
    return table.metafeatures, table.task


def kb_report_html(store: Any, *, X: pd.DataFrame | None = None, y: Any = None, task: str | None = None,
                   data_name: str | None = None, k: int = 5, title: str | None = None) -> str:
    """The knowledge-base report as one self-contained HTML page; ``X``, ``y`` place a new dataset on the map."""
    datasets, evaluations, names = kb_tables(store)
    try:
        info = store.info()
    except Exception as exc:  # info is a nicety: the tables carry the essentials
        log.warning("knowledge-base info failed: %s", exc)
        info = {}
    info = info if isinstance(info, dict) else (vars(info) if hasattr(info, "__dict__") else {"info": str(info)})
    new_mf = new_task = None
    neighbour_rows: list = []
    new_error = None
    if X is not None and y is not None:
        try:
            new_mf, new_task = _new_dataset(X, y, task)
            neighbour_rows = list(store.similar(new_mf, new_task, k=k))
        except Exception as exc:  # the rest of the page still stands
            log.warning("placing the new dataset on the map failed: %s", exc)
            new_error = f"{type(exc).__name__}: {exc}"
    neighbours = D.neighbours_frame([_as_dict(n) for n in neighbour_rows])
    fps = list(neighbours["fingerprint"]) if "fingerprint" in neighbours.columns else []
    page = Page(title or "Knowledge-base report", str(info.get("path") or ""))
    page.add("contents", "What the knowledge base knows", lambda: _contents(info, datasets, evaluations))
    page.add("map", "Map of the meta-feature space",
             lambda: _map(datasets, names, new_mf, fps, neighbours, new_error, data_name, new_task))
    page.add("wins", "Which model families win where", lambda: _wins(datasets, evaluations))
    return page.render(footer=f"{len(datasets)} dataset(s), {len(evaluations)} evaluation(s).")


def _as_dict(obj: Any) -> dict:
    import dataclasses
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return obj
    return dict(vars(obj)) if hasattr(obj, "__dict__") else {"name": str(obj)}


def _contents(info: dict, datasets: pd.DataFrame, evaluations: pd.DataFrame) -> str:
    pairs = [(str(k).replace("_", " "), v if not isinstance(v, (dict, list)) else
              ", ".join(f"{a}: {b}" for a, b in v.items()) if isinstance(v, dict) else ", ".join(map(str, v)))
             for k, v in info.items()]
    if not pairs:
        pairs = [("datasets", len(datasets)), ("evaluations", len(evaluations))]
    out = kv_table(pairs)
    overview = D.kb_overview(datasets)
    if overview.empty:
        return out + note("The knowledge base holds no dataset yet: fit a model or run `automl kb refresh`.")
    fig, ax = F.figure(8, 3.8)
    F.draw_kb_sizes(overview, ax)
    out += img(fig, "datasets by task and size") + table(overview, index="task")
    if not evaluations.empty and "family" in evaluations.columns:
        ev = evaluations.copy()
        ev["status"] = ev["status"] if "status" in ev.columns else "ok"
        by_family = ev.groupby("family").agg(evaluations=("family", "size"),
                                             finished=("status", lambda s: int((s == "ok").sum())))
        if "fingerprint" in ev.columns:
            by_family["datasets"] = ev.groupby("family")["fingerprint"].nunique()
        out += "<h3>Evaluations by model family</h3>" + table(by_family.sort_values("evaluations", ascending=False),
                                                             index="family")
    return out


def _map(datasets, names, new_mf, fps, neighbours, new_error, data_name, new_task) -> str:
    datasets, skipped = _current_version(datasets)
    mapping = D.metafeature_map(datasets, names, new=new_mf, neighbours=fps)
    fig, ax = F.figure(9, 6)
    F.draw_kb_map(mapping, ax)
    out = img(fig, "meta-feature map")
    if mapping.get("reason"):
        out += note(mapping["reason"])
    else:
        out += note(f"Principal components of {len(names)} meta-features, scaled as the knowledge base scales them "
                    f"for its distances (median and IQR, clipped); the axes name the meta-features with the largest "
                    f"loadings. Points are coloured by task; neighbours are searched within the new dataset's task.")
    if skipped:
        out += note(f"{skipped} dataset(s) with meta-features of another version are not on the map.")
    if new_error:
        out += f'<p class="section-error">The new dataset could not be placed: {esc(new_error)}</p>'
    elif new_mf is not None:
        out += f"<h3>Nearest past datasets to {esc(data_name or 'the new dataset')} ({esc(new_task)})</h3>"
        if neighbours.empty:
            out += note("The knowledge base has no past dataset of this task.")
        else:
            shown = neighbours.copy()
            if "fingerprint" in shown.columns:
                shown["fingerprint"] = shown["fingerprint"].map(lambda s: str(s)[:16])
            out += table(shown, list(shown.columns)[:9])
    else:
        out += note("Pass `--data DATA.csv --target COLUMN` to place a new dataset on the map with its neighbours.")
    return out


def _current_version(datasets: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Only datasets whose meta-features have this package's version are comparable on one map."""
    if datasets.empty or "metafeatures_version" not in datasets.columns:
        return datasets, 0
    try:
        from metafeatures import METAFEATURES_VERSION
    except Exception:  # without the package, keep the most common version
        METAFEATURES_VERSION = datasets["metafeatures_version"].mode().iloc[0]
    same = datasets["metafeatures_version"].astype(str) == str(METAFEATURES_VERSION)
    return datasets[same].reset_index(drop=True), int((~same).sum())


def _wins(datasets: pd.DataFrame, evaluations: pd.DataFrame) -> str:
    wins = D.winning_families(evaluations, datasets)
    if wins.empty:
        return note("No finished evaluation in the knowledge base yet.")
    fig = F.figure(11, 0.8 + 0.4 * wins["family"].nunique() + 1.2)[0]
    fig.clf()
    ax1, ax2 = fig.subplots(1, 2)
    by_task, by_size = D.wins_table(wins, "task"), D.wins_table(wins, "size")
    F.draw_wins(by_task, ax1, "task")
    F.draw_wins(by_size, ax2, "size")
    return (img(fig, "family wins") +
            note(f"Best family per past dataset and metric, among finished evaluations at the highest fidelity "
                 f"({len(wins)} dataset-metric pairs).") +
            "<div class=\"row\"><div>" + table(by_task, index="family") + "</div><div>" +
            table(by_size, index="family") + "</div></div>")


def write_kb_report(out: str | Path, store: Any = None, **kwargs: Any) -> Path:
    """Write the knowledge-base report; ``store`` is a store object, a path, or None (the default store)."""
    from ..persistence import atomic_write_text
    if store is None or isinstance(store, (str, Path)):
        import knowledge_base
        store = knowledge_base.open_store(str(store) if store is not None else None)
    text = kb_report_html(store, **kwargs)
    out = Path(out)
    atomic_write_text(out, text)
    return out
