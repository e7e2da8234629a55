"""The records one refresh job writes: dataset descriptions, evaluations and runs with deterministic ids
(running a job twice adds nothing the second time), each run written in one ``store.record_run``."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from knowledge_base.records import DatasetRecord, EvaluationRecord, RunRecord

from ..kb_records import evaluation_record
from ..versions import library_versions
from .datasets import Item, RefreshDataset
from .openml_flows import openml_overlap
from .options import RefreshOptions


class RecordWriter:
    """Builds and writes the job's records under one space version and the current meta-feature version."""

    def __init__(self, store, options: RefreshOptions, space_version: str, candidate_ids: list[str]) -> None:
        self.store = store
        self.options = options
        self.space_version = space_version
        self.candidate_ids = candidate_ids

    @property
    def mf_version(self) -> str:
        import metafeatures
        return str(metafeatures.METAFEATURES_VERSION)

    def run_id(self, fingerprint: str, kind: str) -> str:
        """Deterministic: the same dataset, versions, settings and pool give the same run."""
        key = f"{kind}|{fingerprint}|{self.space_version}|{self.mf_version}|{self.options.seed}|" \
              f"{self.options.max_rows}|{','.join(self.candidate_ids)}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]

    def run_record(self, fp: str, kind: str, settings: dict, source: str = "local") -> RunRecord:
        now = datetime.now(timezone.utc)
        return RunRecord(run_id=self.run_id(fp, kind), kind=kind, started_at=now, finished_at=now,
                         budget_seconds=float(self.options.budget), settings=settings,
                         versions={**library_versions(), "space": self.space_version,
                                   "metafeatures": self.mf_version}, source=source)

    def dataset_record(self, item: Item, dataset: RefreshDataset) -> DatasetRecord:
        """A described dataset as a new record (with OpenML's qualities next to ours for OpenML items)."""
        table = dataset.table
        extra: dict = {"refresh_source": item.source}
        if dataset.notes:
            extra["notes"] = list(dataset.notes)
        if item.qualities is not None:
            info = item.qualities()
            extra["openml"] = info
            extra["openml_overlap"] = openml_overlap(info.get("qualities") or {}, table.metafeatures)
        return DatasetRecord(
            fingerprint=table.fingerprint, name=item.name, source=item.source, task=table.task, n_rows=len(table.y),
            n_features=table.X.shape[1], metafeatures=table.metafeatures, metafeatures_version=self.mf_version,
            extra=extra)

    @staticmethod
    def stored_record(fp: str, fields: dict | None) -> DatasetRecord | None:
        """The dataset record as the store holds it (None when the index has no fields for it)."""
        if not fields:
            return None
        return DatasetRecord(
            fingerprint=fp, name=str(fields["name"]), source=str(fields["source"]), task=str(fields["task"]),
            n_rows=int(fields["n_rows"]), n_features=int(fields["n_features"]),
            metafeatures=dict(fields["metafeatures"]), metafeatures_version=str(fields["metafeatures_version"]),
            extra=dict(fields.get("extra") or {}))

    def evaluations(self, rows: list[dict], task: str, protocol: str, metric: str) -> list[EvaluationRecord]:
        """Trial rows as records, each configuration in its canonical form for ``task`` (``upgrade_config``;
        the candidates and the search's trials already are: this keeps a stored id canonical whatever the row's
        source)."""
        from ..models import upgrade_config
        out = []
        for r in rows:
            config = upgrade_config(r["config"], task)
            row = r if config is None else {**r, "config": config}
            out.append(evaluation_record(row, space_version=self.space_version, protocol=protocol, metric=metric,
                                         seed=self.options.seed))
        return out

    def write(self, run: RunRecord, dataset: DatasetRecord, evaluations: list[EvaluationRecord]) -> int:
        return int(self.store.record_run(run, dataset, evaluations))
