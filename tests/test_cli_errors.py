"""Every bad input exits with code 2, one line 'error: ...' on stderr, and writes nothing."""
from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from cli import main
from tests.fixtures.tables import make_dataset


def run(args, cwd):
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=cwd):
        result = runner.invoke(main, args, catch_exceptions=False)
    return result


def assert_bad_input(result, *fragments):
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("warning:")]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def write(tmp_path, name, frame_or_bytes):
    path = tmp_path / name
    if isinstance(frame_or_bytes, bytes):
        path.write_bytes(frame_or_bytes)
    else:
        frame_or_bytes.to_csv(path, index=False)
    return path


CASES = {
    "missing file": (None, ["--target", "y"], ["does not exist"]),
    "empty file": (b"", ["--target", "y"], ["empty"]),
    "header only": (b"a,b,y\n", ["--target", "y"], ["no rows"]),
    "target not found": ("good", ["--target", "Y_"], ["not found", "did you mean 'y'", "columns are"]),
    "target all missing": ("all_missing", ["--target", "y"], ["missing in every row"]),
    "one class": ("one_class", ["--target", "y"], ["only one"]),
    "regression on text": ("good", ["--target", "y", "--task", "regression"], ["not numeric"]),
    "too few rows": ("tiny", ["--target", "y"], ["at least"]),
    "duplicate columns": (b"a,a,y\n1,2,0\n3,4,1\n", ["--target", "y"], ["duplicate column"]),
    "no usable feature": ("useless", ["--target", "y"], ["no usable feature"]),
    "budget zero": ("good", ["--target", "y", "--time-budget", "0"], ["--time-budget"]),
    "budget negative": ("good", ["--target", "y", "--time-budget", "-5"], ["--time-budget"]),
    "unknown metric": ("good", ["--target", "y", "--metric", "auc_pr"], ["unknown metric", "roc_auc"]),
    "metric wrong task": ("good", ["--target", "y", "--metric", "rmse"], ["does not apply", "binary"]),
    "unknown task": ("good", ["--target", "y", "--task", "ranking"], ["unknown task"]),
}


def _table(kind):
    good = make_dataset(n=60)
    if kind == "good":
        return good
    if kind == "all_missing":
        return good.assign(y=None)
    if kind == "one_class":
        return good.assign(y="pos")
    if kind == "tiny":
        return good.head(6)
    if kind == "useless":
        return pd.DataFrame({"id": [f"k{i}" for i in range(40)], "c": 1, "y": [0, 1] * 20})
    raise KeyError(kind)


@pytest.mark.parametrize("case", list(CASES))
def test_fit_bad_input(tmp_path, case):
    content, args, fragments = CASES[case]
    if content is None:
        data = tmp_path / "absent.csv"
    elif isinstance(content, bytes):
        data = write(tmp_path, "data.csv", content)
    else:
        data = write(tmp_path, "data.csv", _table(content))
    out = tmp_path / "model"
    result = run(["fit", str(data), "--out", str(out), "--time-budget", "5", *args], tmp_path)
    assert_bad_input(result, *fragments)
    assert not out.exists()
    assert not any(p.name.startswith(".model") for p in tmp_path.iterdir())


def test_predict_model_dir_missing_or_corrupt(tmp_path):
    data = write(tmp_path, "data.csv", _table("good"))
    assert_bad_input(run(["predict", str(tmp_path / "nope"), str(data)], tmp_path), "does not exist")
    broken = tmp_path / "broken"
    broken.mkdir()
    assert_bad_input(run(["predict", str(broken), str(data)], tmp_path), "manifest.json is missing")
    (broken / "manifest.json").write_text("{not json")
    assert_bad_input(run(["predict", str(broken), str(data)], tmp_path), "damaged")
