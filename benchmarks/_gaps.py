"""Where the GUI thread was while the event loop was blocked (for the benchmarks).

:class:`GapSampler` watches the time stamps a 10 ms GUI timer appends to a list; while the
newest is more than 12 ms old it samples the GUI thread's Python stack every 2 ms (each
sample weighs the time since the previous one), and :meth:`GapSampler.report` prints, for
the largest gaps, the functions that were on the stack longest (inclusive). C work that
holds the GIL shows as gaps with few, heavy samples.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path


class GapSampler(threading.Thread):
    """Samples the GUI thread's stack while the GUI timer is late (> 12 ms since its tick)."""

    def __init__(self, gui_thread: int | None = None) -> None:
        super().__init__(daemon=True)
        self.gui_thread = gui_thread or threading.get_ident()
        self.stamps: list[float] = []
        self.gaps: list[tuple[float, list[tuple[float, tuple[str, ...]]]]] = []
        self.current: list[tuple[float, tuple[str, ...]]] = []
        self.running = True
        self.lines = int(os.environ.get("GAP_LINES", "22"))
        self.start()

    def watch(self, stamps: list[float]) -> None:
        self.stamps, self.gaps, self.current = stamps, [], []

    def run(self) -> None:
        seen, last = 0, time.perf_counter()
        while self.running:
            time.sleep(0.002)
            now = time.perf_counter()
            waited, last = now - last, now  # (more than 2 ms when the GIL was busy)
            stamps = self.stamps
            if not stamps:
                continue
            if len(stamps) < seen:  # the list was cleared: a new measurement
                self.current, seen = [], len(stamps)
            elif len(stamps) != seen:  # a tick since the last look: the gap (if any) ended
                if self.current and seen:
                    self.gaps.append((1000 * (stamps[-1] - stamps[max(seen - 1, 0)]),
                                      self.current))
                self.current, seen = [], len(stamps)
            elif now - stamps[-1] > 0.012:
                frames = sys._current_frames()
                names = self._stack(frames.get(self.gui_thread))
                # the other threads' innermost frames: a worker that holds the GIL in C
                # code blocks the GUI thread without being on its stack
                mine = threading.get_ident()
                for ident, frame in frames.items():
                    if ident not in (self.gui_thread, mine):
                        names += tuple(f"[worker] {n}" for n in self._stack(frame)[:4])
                self.current.append((waited, names))

    @staticmethod
    def _stack(frame: object) -> tuple[str, ...]:
        names = []
        while frame is not None:
            code = frame.f_code  # type: ignore[attr-defined]
            names.append(f"{Path(code.co_filename).name}:{code.co_name}")
            frame = frame.f_back  # type: ignore[attr-defined]
        return tuple(names)

    def report(self) -> None:
        for gap, samples in sorted(self.gaps, key=lambda g: -g[0])[:2]:
            counts: Counter[str] = Counter()
            for waited, stack in samples:
                for name in set(stack):
                    counts[name] += 1000 * waited
            print(f"    gap {gap:.0f} ms, {len(samples)} samples:")
            for name, ms in counts.most_common(self.lines):
                print(f"      {ms:5.0f} ms  {name}")

    def stop(self) -> None:
        self.running = False

