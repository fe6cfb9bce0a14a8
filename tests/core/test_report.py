"""The HTML report: self-contained, complete, and the same from Python and the command line."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import numpy as np
import pytest

from gmm_desktop.core import Detector, RunConfig, ThresholdSpec
from gmm_desktop.data import demo_path


@pytest.fixture(scope="module")
def run():
    det = Detector(RunConfig(id_column="id", columns=("x", "y"), refit="noise-component",
                             threshold=ThresholdSpec("contamination", 0.015)))
    det.load(demo_path("synthetic"))
    det.fit()
    det.detect()
    return det


def test_the_report_holds_everything_a_reviewer_needs(run, tmp_path):
    path = run.report(tmp_path / "report.html")
    html = path.read_text()
    for section in ("Summary", "Data", "Preparation", "Model", "Model selection", "Plots",
                    "Threshold", "Flagged rows", "Provenance"):
        assert f"<h2>{section}</h2>" in html
    sha = hashlib.sha256(demo_path("synthetic").read_bytes()).hexdigest()
    assert sha in html  # the file it describes
    det = run.detection
    assert f"{det.n_flagged:,} of {det.n_rows:,} rows flagged" in html
    # every flagged row is listed with its top feature
    table = html[html.index("<h2>Flagged rows</h2>"):html.index("<h2>Provenance</h2>")]
    assert table.count("<tr>") == det.n_flagged + 1
    ids = run.prepared.row_ids[np.asarray(det.flags)]
    for row_id in ids:
        assert f'<td class="l">{row_id}</td>' in table
    # the settings can be read back into the same configuration
    config = re.search(r"<pre>(\{.*?\})</pre>", html, flags=re.S).group(1)
    assert RunConfig.from_dict(json.loads(config.replace("&quot;", '"'))) == run.config
    assert "gmm-desktop detect" in html and "noise-component" in html
    # three charts, inline, and nothing fetched from elsewhere
    assert html.count("<svg") == 3
    assert not re.search(r"<(script|link|img)\b", html)
    assert not re.search(r"(src|href)=\"http", html)


def test_the_command_line_writes_the_same_report(run, tmp_path):
    out = tmp_path / "cli.html"
    proc = subprocess.run(
        [sys.executable, "-m", "gmm_desktop", "report", str(demo_path("synthetic")),
         "--id-column", "id", "--columns", "x", "y", "--refit", "noise-component",
         "--contamination", "0.015", "--output", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    ours = run.report(tmp_path / "py.html").read_text()

    def stable(text: str) -> str:  # the time of writing differs
        return re.sub(r"on \d{4}-\d\d-\d\dT[\d:+]+\.", "", text)

    assert stable(out.read_text()) == stable(ours)
    bad = subprocess.run([sys.executable, "-m", "gmm_desktop", "report",
                          str(demo_path("synthetic")), "--output", str(tmp_path / "r.txt")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and ".html" in bad.stderr
