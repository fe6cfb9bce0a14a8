"""The import preview's worker outlives the dialog that asked: closing (deleting and
collecting) a dialog while its previews run must not crash the process (CI aborted in the
garbage collector when per-request Qt objects were collected while a worker used them)."""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
from PySide6.QtCore import QCoreApplication, QObject

from gmm_desktop.controller.importing import _POOL, ImportPreviewer
from gmm_desktop.data import ReadOptions


def test_previewers_deleted_while_their_previews_run(qtbot, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "t.csv"
    pd.DataFrame(rng.normal(size=(20_000, 6))).to_csv(path, index=False)
    answers = []
    for i in range(30):
        parent = QObject()
        previewer = ImportPreviewer(parent)
        previewer.previewReady.connect(answers.append)
        for _ in range(3):
            previewer.request(path, ReadOptions())
        if i % 3 == 0:  # some answer before the dialog closes
            assert previewer.wait(10_000)
            QCoreApplication.processEvents()
        parent.deleteLater()
        QCoreApplication.processEvents()
        del parent, previewer
        gc.collect()
    _POOL.submit(lambda: None).result(timeout=60)  # every preview has run
    for _ in range(5):
        QCoreApplication.processEvents()
    gc.collect()
    assert answers and all(a.ok for a in answers)
    # only the latest request of a previewer is answered (the third); previewers that were
    # still alive when their answer came (a deferred delete waits for the event loop) may
    # have answered too, but never a stale request
    assert len(answers) >= 10 and all(a.generation == 3 for a in answers)


def test_the_latest_request_is_answered(qtbot, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a;b\n1,5;2\n3,5;4\n")
    previewer = ImportPreviewer()
    first = previewer.request(path, ReadOptions(delimiter=","))
    latest = previewer.request(path, ReadOptions())
    with qtbot.waitSignal(previewer.previewReady, timeout=30_000) as blocker:
        pass
    assert first != latest and blocker.args[0].generation == latest
    assert blocker.args[0].ok and blocker.args[0].columns == ("a", "b")


def test_previewers_deleted_at_once_while_the_worker_answers(qtbot, tmp_path):
    """A previewer deleted in the GUI thread (not later) while its worker answers: the
    worker emits on a relay that is never deleted, and the answer of a deleted previewer
    is dropped. (The worker used to emit on the previewer's own signal, which the GUI
    thread could delete during the emit: a crash seen once under load.)"""
    import shiboken6

    path = tmp_path / "small.csv"
    pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) ** 2}).to_csv(path,
                                                                         index=False)
    answers = []
    for i in range(150):
        previewer = ImportPreviewer()
        previewer.previewReady.connect(answers.append)
        previewer.request(path, ReadOptions())
        if i % 2:
            _POOL.submit(lambda: None).result(timeout=60)  # its answer is on its way
        shiboken6.delete(previewer)  # the C++ object goes now
        del previewer
        QCoreApplication.processEvents()
    _POOL.submit(lambda: None).result(timeout=60)
    for _ in range(5):
        QCoreApplication.processEvents()
    assert answers == []  # every previewer was gone before its answer was delivered
    # a previewer still alive gets its answer
    alive = ImportPreviewer()
    got = []
    alive.previewReady.connect(got.append)
    alive.request(path, ReadOptions())
    qtbot.waitUntil(lambda: bool(got), timeout=20_000)
    assert got[0].ok and got[0].columns == ("a", "b")
