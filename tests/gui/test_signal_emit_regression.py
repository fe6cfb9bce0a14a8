"""PySide6 6.12.0 aborted CPython 3.11 after about 2,000 Signal.emit() calls (a refcount bug
on ``True``); this emits 10,000 times, with bools and objects, directly and queued."""

import threading

from PySide6.QtCore import QObject, Signal, Slot


class Emitter(QObject):
    flag = Signal(bool)
    payload = Signal(object)


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.flags = 0
        self.payloads = 0

    @Slot(bool)
    def on_flag(self, value: bool) -> None:
        self.flags += int(value is True)

    @Slot(object)
    def on_payload(self, value: object) -> None:
        self.payloads += 1


def test_ten_thousand_emits_direct_and_from_a_thread(qtbot):
    emitter, receiver = Emitter(), Receiver()
    emitter.flag.connect(receiver.on_flag)
    emitter.payload.connect(receiver.on_payload)
    for i in range(10_000):
        emitter.flag.emit(True)
        emitter.payload.emit({"i": i, "ok": True})
    assert receiver.flags == 10_000 and receiver.payloads == 10_000

    def worker() -> None:  # queued to the GUI thread, like the controller's progress
        for i in range(10_000):
            emitter.flag.emit(True)
            emitter.payload.emit((i, True))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: receiver.payloads == 20_000, timeout=20_000)
    assert receiver.flags == 20_000
