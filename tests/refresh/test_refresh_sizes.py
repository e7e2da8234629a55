"""Real-size evaluations: a refresh with a larger ``--max-rows`` evaluates a stored dataset's candidates again on
the new size and adds them to the same dataset (the protocol says the size); the same command twice adds nothing."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import knowledge_base as kb
from automl.refresh.portfolio import candidate_losses
from automl.search.validation import evaluated_rows
from automl.space import SPACE_VERSION
from cli import main
from tests.fixtures.pmlb import PMLB, write_pmlb_folder
from tests.refresh.conftest import TINY_POOL

NAME = "1029_LEV"  # 1,000 rows, 4 features, regression


@pytest.mark.skipif(not (PMLB / f"{NAME}.tsv.gz").exists(), reason="the real PMLB tables are not on this machine")
def test_a_larger_max_rows_adds_evaluations_at_the_new_size_to_the_same_dataset(tmp_path):
    folder = write_pmlb_folder(tmp_path / "datasets", (NAME,))
    pool = tmp_path / "pool.json"
    pool.write_text(json.dumps(TINY_POOL[:2]))  # linear + a small LightGBM: cheap
    path = tmp_path / "kb.duckdb"
    store = kb.open_store(path, seed_dir=None)

    def refresh(max_rows: int) -> dict:
        result = CliRunner().invoke(main, ["kb", "refresh", "--kb", str(path), "--from-dir", str(folder), "--budget",
                                           "0", "--candidates", str(pool), "--max-rows", str(max_rows), "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    def sizes() -> list[int]:
        ev = store.evaluations()
        n_rows = int(store.datasets()["n_rows"].iloc[0])
        return sorted(evaluated_rows(p, n_rows) for p in ev["protocol"])

    first = refresh(300)
    assert first["added"] == 1 and sizes() == [300, 300]
    fingerprint = store.datasets()["fingerprint"].iloc[0]

    second = refresh(600)
    assert second["updated"] == 1 and second["evaluations_written"] == 2, second
    assert len(store.datasets()) == 1 and store.datasets()["fingerprint"].iloc[0] == fingerprint
    assert sizes() == [300, 300, 600, 600]
    ev = store.evaluations()
    assert set(ev["fingerprint"]) == {fingerprint} and ev["protocol"].str.contains(";rows=600/1000;").sum() == 2
    assert (ev.groupby("config_id").size() == 2).all()  # each candidate once per size

    third = refresh(600)
    assert third["skipped"] == 1 and third["evaluations_written"] == 0
    smaller = refresh(300)  # fewer rows than stored: nothing to add either
    assert smaller["skipped"] == 1 and smaller["evaluations_written"] == 0

    whole = refresh(5000)  # every row: the protocol has no subsample suffix
    assert whole["updated"] == 1 and whole["evaluations_written"] == 2
    assert sizes() == [300, 300, 600, 600, 1000, 1000]
    assert refresh(5000)["skipped"] == 1
    assert len(store.runs()) == 3
    frame, _ = candidate_losses({"evaluations": store.evaluations()}, str(SPACE_VERSION))
    assert len(frame) == 2  # the portfolio reads the dataset at its most rows only


def test_evaluated_rows_reads_the_subsample_suffix_else_the_dataset_rows():
    assert evaluated_rows("cv3;rows=2000/22784;seed=0", 22784) == 2000
    assert evaluated_rows("cv5", 700) == 700
    assert evaluated_rows("group-cv5", 90) == 90
