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
    "infer limit zero": ("good", ["--target", "y", "--infer-limit", "0"], ["--infer-limit"]),
    "infer limit negative": ("good", ["--target", "y", "--infer-limit", "-0.001"], ["--infer-limit"]),
    "infer limit nan": ("good", ["--target", "y", "--infer-limit", "nan"], ["--infer-limit"]),
    "memory limit not a size": ("good", ["--target", "y", "--memory-limit", "lots"], ["--memory-limit", "4GB"]),
    "memory limit zero": ("good", ["--target", "y", "--memory-limit", "0GB"], ["--memory-limit", "at least 1 MiB"]),
    "memory limit bytes too few": ("good", ["--target", "y", "--memory-limit", "512B"], ["--memory-limit"]),
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


# --------------------------------------------------------------------------- click's own usage errors
USAGE_ERRORS = {
    "unknown option": ["fit", "DATA", "--target", "y", "--bogus"],
    "budget not a number": ["fit", "DATA", "--target", "y", "--time-budget", "abc"],
    "seed not an integer": ["fit", "DATA", "--target", "y", "--seed", "x"],
    "infer limit not a number": ["fit", "DATA", "--target", "y", "--infer-limit", "fast"],
    "option without its value": ["fit", "DATA", "--target"],
    "missing argument": ["fit"],
    "predict missing data": ["predict", "MODEL"],
    "predict unknown option": ["predict", "MODEL", "DATA", "--nope"],
    "report out of range": ["report", "MODEL", "--max-rows", "3"],
    "kb similar required option": ["kb", "similar", "DATA"],
    "kb info unknown option": ["kb", "info", "--nope"],
    "kb refresh bad number": ["kb", "refresh", "--budget", "abc"],
    "unknown command": ["bogus"],
    "unknown kb command": ["kb", "bogus"],
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_errors_are_one_line_exit_2(tmp_path, case):
    data = write(tmp_path, "data.csv", _table("good"))
    args = [str(data) if a == "DATA" else str(tmp_path / "model") if a == "MODEL" else a for a in USAGE_ERRORS[case]]
    result = run(args, tmp_path)
    assert_bad_input(result)
    assert "Usage:" not in result.stderr and "Error:" not in result.stderr


def test_missing_target_is_one_line(tmp_path):
    data = write(tmp_path, "data.csv", _table("good"))
    assert_bad_input(run(["fit", str(data), "--time-budget", "5", "--out", str(tmp_path / "m")], tmp_path),
                     "--target is required")


def test_fit_help_lists_the_valid_values():
    from automl.estimator import STRATEGIES
    from automl.metrics import METRICS, TASKS
    from automl.models import REGISTRY
    result = CliRunner().invoke(main, ["fit", "--help"], terminal_width=200)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "--target TEXT Name of the target column. [required unless --resume" in text
    for name in [*REGISTRY.keys(), *METRICS, *TASKS, *STRATEGIES]:
        assert name in text, name
    include = text[text.index("--include"):text.index("--exclude")]
    assert all(family in include for family in REGISTRY.keys())


# --------------------------------------------------------------------------- paths checked before the work
def test_unwritable_out_and_kb_fail_before_the_search(tmp_path):
    data = write(tmp_path, "data.csv", _table("good"))
    a_file = write(tmp_path, "a_file", b"x")
    kb = tmp_path / "kb.duckdb"
    fit = ["fit", str(data), "--target", "y", "--time-budget", "30"]
    cases = [(["--out", str(a_file), "--kb", str(kb)], ["--out", "not a directory"]),
             (["--out", str(a_file / "model"), "--kb", str(kb)], ["--out", "not a directory"]),
             (["--out", str(tmp_path / "m"), "--kb", str(a_file / "kb.duckdb")], ["--kb", "not a directory"]),
             (["--out", str(tmp_path / "m"), "--kb", str(tmp_path)], ["--kb", "is a directory"])]
    for options, fragments in cases:
        assert_bad_input(run(fit + options, tmp_path), *fragments)
    assert not kb.exists() and not (tmp_path / "m").exists()


def test_read_only_location_names_the_option(tmp_path):
    import tempfile
    try:
        tempfile.TemporaryFile(dir="/sys").close()
        pytest.skip("files can be created in /sys here")
    except OSError:
        pass
    data = write(tmp_path, "data.csv", _table("good"))
    result = run(["fit", str(data), "--target", "y", "--time-budget", "30", "--out", "/sys/automl-test/model",
                  "--kb", str(tmp_path / "kb.duckdb")], tmp_path)
    assert_bad_input(result, "--out '/sys/automl-test/model'", "cannot create files in '/sys'")


def test_unwritable_out_of_predict_report_and_kb_export(tmp_path):
    a_file = write(tmp_path, "a_file", b"x")
    model = tmp_path / "model"
    data = write(tmp_path, "data.csv", _table("good"))
    assert_bad_input(run(["predict", str(model), str(data), "--out", str(a_file / "p.csv")], tmp_path),
                     "--out", "not a directory")
    assert_bad_input(run(["predict", str(model), str(data), "--out", str(tmp_path)], tmp_path),
                     "--out", "is a directory")
    assert_bad_input(run(["kb", "report", "--out", str(a_file / "kb.html")], tmp_path), "--out")
    assert_bad_input(run(["kb", "export", str(a_file / "export")], tmp_path), "DIRECTORY", "not a directory")
    assert_bad_input(run(["kb", "export", str(a_file)], tmp_path), "DIRECTORY", "not a directory")


# --------------------------------------------------------------------------- messages
def test_messages_show_plain_values_not_numpy_reprs():
    import numpy as np

    from automl import AutoML
    from automl.data import encode_target, infer_task
    from automl.exceptions import InputError
    with pytest.raises(InputError) as one_value:
        infer_task(pd.Series(np.array([7, 7, 7]), name="y"))
    with pytest.raises(InputError) as one_class:
        encode_target(pd.Series(np.array(["b", "b"]), name="y"), "binary")
    table = make_dataset(n=40)
    with pytest.raises(InputError) as budget:
        AutoML(time_budget=np.float64(-1.0)).fit(table.drop(columns="y"), table["y"])
    with pytest.raises(InputError) as jobs:
        AutoML(n_jobs=np.int64(-3)).fit(table.drop(columns="y"), table["y"])
    from automl.models import REGISTRY
    from automl.space import check_config
    params = REGISTRY.get("lightgbm").params
    messages = [str(e.value) for e in (one_value, one_class, budget, jobs)]
    messages += check_config(params, {"learning_rate": np.float64(7.5)})
    assert "(7)" in messages[0] and "('b')" in messages[1]
    assert "got -1.0" in messages[2] and "got -3" in messages[3]
    assert messages[4] == "learning_rate=7.5 is outside its domain"
    assert not any("np." in m for m in messages), messages


def test_python_api_messages_name_parameters_not_flags():
    from automl import AutoML
    from automl.exceptions import InputError
    multi = make_dataset("multiclass", n=60)
    with pytest.raises(InputError) as binary:
        AutoML(task="binary", time_budget=5).fit(multi.drop(columns="y"), multi["y"])
    with pytest.raises(InputError) as regression:
        AutoML(task="regression", time_budget=5).fit(multi.drop(columns="y"), multi["y"])
    assert "task='multiclass'" in str(binary.value)
    assert "task='binary'" in str(regression.value)
    assert "--" not in str(binary.value) + str(regression.value)


def test_a_bare_command_group_prints_its_help():
    for args in ([], ["kb"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0 and "Usage:" in result.stdout and not result.stderr, args
