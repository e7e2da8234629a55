"""Loading, validation, task inference and column cleaning (automl.data)."""
from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from automl.data import TableEncoder, encode_target, infer_task, load_table, split_target
from automl.exceptions import InputError
from tests.fixtures.tables import make_dataset


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_delimiter_is_sniffed(tmp_path, sep):
    frame = make_dataset(n=50)
    path = tmp_path / "d.csv"
    frame.to_csv(path, sep=sep, index=False)
    loaded = load_table(path)
    assert list(loaded.columns) == list(frame.columns)
    assert len(loaded) == 50


def test_gzip_bom_latin1_tsv_parquet(tmp_path):
    frame = pd.DataFrame({"naïve": ["é", "à", "ü", "o"] * 5, "x": range(20), "y": [0, 1] * 10})
    text = frame.to_csv(index=False)
    (tmp_path / "bom.csv").write_bytes("\ufeff".encode() + text.encode("utf-8"))
    (tmp_path / "latin.csv").write_bytes(text.encode("latin-1"))
    (tmp_path / "z.csv.gz").write_bytes(gzip.compress(text.encode()))
    frame.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    frame.to_parquet(tmp_path / "p.parquet")
    for name in ["bom.csv", "latin.csv", "z.csv.gz", "t.tsv", "p.parquet"]:
        loaded = load_table(tmp_path / name)
        assert list(loaded.columns) == ["naïve", "x", "y"], name
        assert loaded["naïve"].tolist()[:3] == ["é", "à", "ü"], name


def test_a_parquet_table_is_read_column_by_column_into_the_same_frame(tmp_path):
    """Arrow converts (and frees) one column at a time, so the table is not held twice while it is read; the frame is
    pandas' own reading of the file, value for value and dtype for dtype."""
    frame = make_dataset(n=300, seed=6)
    frame["count"] = np.arange(300)
    frame["ok"] = frame["count"] % 3 == 0
    frame["day"] = pd.Timestamp("2021-01-01") + pd.to_timedelta(frame["count"], unit="h")
    frame.to_parquet(tmp_path / "t.parquet")
    loaded = load_table(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(loaded, pd.read_parquet(tmp_path / "t.parquet"), check_exact=True)
    assert loaded._mgr.nblocks == loaded.shape[1]  # one block per column: no consolidated copy was made


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"a,b,y\n", "no rows"),
    (b"a,a,y\n1,2,3\n", "duplicate column"),
    (b"\x00\x01\x02\x03binary", "binary"),
])
def test_bad_files(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_table(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_table(tmp_path / "nope.csv")


def test_target_not_found_suggests_closest():
    frame = pd.DataFrame({"income": [1, 2], "Target": [0, 1]})
    with pytest.raises(InputError, match="did you mean 'Target'"):
        split_target(frame, "target")


@pytest.mark.parametrize("values,task", [
    (["a", "b", "a"], "binary"), ([0, 1, 1], "binary"), (["x", "y", "z"], "multiclass"),
    ([1, 2, 3, 4, 1, 2], "multiclass"), ([0.5, 1.25, 3.0, 7.5], "regression"), (list(range(100)), "regression"),
])
def test_infer_task(values, task):
    assert infer_task(pd.Series(values, name="t")) == task


def test_encode_target_errors():
    with pytest.raises(InputError, match="only one"):
        encode_target(pd.Series(["a"] * 10, name="t"), None)
    with pytest.raises(InputError, match="not numeric"):
        encode_target(pd.Series(["a", "b"] * 10, name="t"), "regression")
    with pytest.raises(InputError, match="not 2"):
        encode_target(pd.Series(["a", "b", "c"] * 10, name="t"), "binary")
    target = encode_target(pd.Series(["no", "yes", "no"] * 4, name="t"), None)
    assert target.task == "binary" and list(target.classes) == ["no", "yes"]
    assert target.y.tolist()[:3] == [0, 1, 0]


def test_encoder_handles_messy_columns_and_unseen_categories():
    frame = make_dataset(n=120).drop(columns=["y"])
    frame["is_new"] = np.tile([True, False], 60)
    frame["big_cat"] = [f"c{i % 80}" for i in range(120)]
    enc = TableEncoder(max_categories=50)
    out = enc.fit_transform(frame)
    assert enc.dropped_ == {"row_id": "ID-like (a distinct value per row)", "constant": "constant"}
    assert {"when__year", "when__month", "when__dayofweek"} <= set(out.columns)
    assert str(out["colour"].dtype) == "category" and str(out["flag"].dtype) == "float64"
    assert out["is_new"].tolist()[:2] == [1.0, 0.0]
    assert len(out["big_cat"].cat.categories) == 51  # 50 most frequent + __other__
    assert all(out[c].dtype == "float64" or str(out[c].dtype) == "category" for c in out.columns)
    new = frame.iloc[:5].copy()
    new["colour"] = ["purple", "red", None, "blue", "green"]
    new = new[list(reversed(new.columns))]  # column order does not matter
    new["extra"] = 1
    again = enc.transform(new)
    assert list(again.columns) == list(out.columns)
    assert pd.isna(again["colour"].iloc[0]) and again["colour"].iloc[1] == "red"


def test_encoding_copies_no_number_column_and_builds_no_second_table():
    """A float column that needs no cleaning is the input's own values (the cleaned table costs its category codes,
    not a second copy of the numbers); copy on write keeps the two apart."""
    frame = make_dataset(n=300, seed=5)
    X = frame[["a", "b", "colour"]].copy()
    X.loc[0, "b"] = np.inf  # cleaned to missing: that column alone is new
    cleaned = TableEncoder().fit(X).transform(X)
    assert np.shares_memory(cleaned["a"].to_numpy(), X["a"].to_numpy())
    assert not np.shares_memory(cleaned["b"].to_numpy(), X["b"].to_numpy()) and np.isnan(cleaned.loc[0, "b"])
    before = cleaned["a"].copy()
    X.loc[1, "a"] = 1e6
    pd.testing.assert_series_equal(cleaned["a"], before)


def test_the_numbers_converted_in_one_block_and_the_categories_are_what_each_column_alone_gives():
    from automl.data.column_values import encode_column
    frame = make_dataset(n=300).drop(columns=["y"])
    frame["count"] = np.arange(300, dtype=np.int64) % 7
    frame["small"] = np.linspace(-1, 1, 300).astype(np.float32)
    frame["nullable"] = pd.array([None if i % 9 == 0 else i % 5 for i in range(300)], dtype="Int64")
    frame["big_cat"] = [f"c{i % 80}" for i in range(300)]
    enc = TableEncoder(max_categories=50).fit(frame)
    new = frame.iloc[:40].copy()
    new.loc[[1, 2], "b"] = [np.inf, -np.inf]  # missing, as one column alone makes them
    new.loc[[3, 4, 5], "big_cat"] = ["c79", "never seen", None]  # a rare and an unseen one: __other__; None: missing
    whole = enc.transform(new)
    for plan in enc.plans_:  # the per-column path, one column at a time
        for name, values in encode_column(plan, new[plan.name].reset_index(drop=True)).columns.items():
            pd.testing.assert_series_equal(whole[name], pd.Series(values, name=name), check_index=False)
    rows = pd.concat([enc.transform(new.iloc[[i]]) for i in range(len(new))])
    pd.testing.assert_frame_equal(rows, whole)
    assert whole["b"].iloc[1:3].isna().all() and whole["big_cat"].iloc[3:5].tolist() == ["__other__"] * 2
    assert pd.isna(whole["big_cat"].iloc[5]) and whole["count"].dtype == whole["small"].dtype == "float64"


def test_encoder_missing_columns_named():
    frame = make_dataset(n=40).drop(columns=["y"])
    enc = TableEncoder().fit(frame)
    with pytest.raises(InputError, match="'colour'"):
        enc.transform(frame.drop(columns=["colour"]))


def test_no_usable_feature():
    frame = pd.DataFrame({"id": [f"k{i}" for i in range(30)], "c": [1] * 30, "e": [None] * 30})
    with pytest.raises(InputError, match="no usable feature"):
        TableEncoder().fit(frame)


def test_text_columns_are_refused_or_read_as_numbers_as_by_a_full_parse():
    from automl.data.column_plan import NUMBER_SHARE, _constant, _mostly_numbers
    rng = np.random.default_rng(0)
    for n_bad in (0, 5, 19, 20, 21, 40, 500):
        for where in ("start", "spread"):
            values = [f"{v:.3f}" for v in rng.normal(size=1000)]
            positions = range(n_bad) if where == "start" else rng.choice(1000, n_bad, replace=False)
            for i in positions:
                values[i] = "text"
            text = pd.Series(values)
            full = pd.to_numeric(text, errors="coerce")
            expected = full.notna().mean() >= NUMBER_SHARE
            got = _mostly_numbers(text)
            assert (got is not None) == expected, (n_bad, where)
            if got is not None:
                pd.testing.assert_series_equal(got, full)
    for values, constant in (([1.0, 1.0], True), ([np.nan, np.nan], True), ([1.0, np.nan], False),
                             ([1.0, 2.0], False), ([np.inf, np.inf], True)):
        assert _constant(np.asarray(values)) is constant
        assert (pd.Series(values).nunique(dropna=False) <= 1) is constant
