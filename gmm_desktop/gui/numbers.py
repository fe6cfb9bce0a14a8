"""Number entry that does what it shows: typed values are committed when the analyst is done
(Enter or leaving the field), never keystroke by keystroke; the user's locale is honoured
(``0,005`` in German) and a dot is always read as the decimal mark; small values keep their
digits (``1e-08`` is not rounded to 0); bad text is refused with a message, never replaced
silently by a default.
"""

from __future__ import annotations

import math
import re
from typing import Any

from PySide6.QtCore import QLocale, Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QLineEdit, QToolTip, QWidget

#: Significant digits shown (enough for a log-density cut-off or a tolerance).
DIGITS = 6
#: A number being typed: sign, digits, a decimal mark (dot or comma), an exponent.
_PARTIAL = re.compile(r"^[+\-\u2212]?[0-9]*([.,][0-9]*)?([eE][+\-\u2212]?[0-9]*)?$")


def _strict(locale: QLocale) -> QLocale:
    loc = QLocale(locale)
    loc.setNumberOptions(loc.numberOptions() | QLocale.NumberOption.RejectGroupSeparator)
    return loc


def parse_number(text: str, locale: QLocale | None = None) -> float | None:
    """The number in ``text`` (``None`` if it is not one).

    Read in ``locale`` first (so ``0,005`` is 0.005 in German), then in the C locale (so a
    dot is a decimal mark everywhere, never a thousands separator: ``1.000`` is one).
    Scientific notation and the Unicode minus are accepted; NaN and infinities are not.
    """
    t = text.strip().replace("\u2212", "-").replace("\u00a0", "").replace(" ", "")
    if not t:
        return None
    for loc in (_strict(locale or QLocale()), _strict(QLocale.c())):
        value, ok = loc.toDouble(t)
        if ok and math.isfinite(value):
            return float(value)
    return None


def format_number(value: float, locale: QLocale | None = None, digits: int = DIGITS) -> str:
    """``value`` with up to ``digits`` significant digits in ``locale`` (no group
    separators, no trailing zeros; scientific notation for very small or large values)."""
    if value == 0:
        return "0"
    loc = QLocale(locale or QLocale())
    loc.setNumberOptions(loc.numberOptions() | QLocale.NumberOption.OmitGroupSeparator)
    return loc.toString(float(value), "g", digits)


def number_state(text: str, locale: QLocale, low: float, high: float) -> QValidator.State:
    """Acceptable: a number in ``[low, high]``; Intermediate: on the way to one."""
    value = parse_number(text, locale)
    if value is not None and low <= value <= high:
        return QValidator.State.Acceptable
    stripped = text.strip().replace("\u00a0", "").replace(" ", "")
    if value is not None or _PARTIAL.match(stripped):
        return QValidator.State.Intermediate
    return QValidator.State.Invalid


class NumberBox(QDoubleSpinBox):
    """A spin box for a real number (see the module docstring).

    ``valueChanged`` fires on Enter, on leaving the field, on the arrows and the wheel, and
    on :meth:`setValue`; text typed halfway is never committed. ``log_step``: the arrows
    multiply or divide by 10 (tolerances, regularisations). ``invalidEntry`` carries a
    message when text that is not a number in range was left in the field (the previous
    value is kept and the message says so).
    """

    invalidEntry = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, minimum: float = -1e12,
                 maximum: float = 1e12, value: float = 0.0, step: float | None = None,
                 log_step: bool = False, digits: int = DIGITS) -> None:
        super().__init__(parent)
        self.digits = digits
        self.log_step = log_step
        # Qt rounds a spin box's value to ``decimals``: keep every digit a double has
        self.setDecimals(20)
        self.setRange(minimum, maximum)
        if step is not None:
            self.setSingleStep(step)
        self.setKeyboardTracking(False)
        self.setCorrectionMode(QDoubleSpinBox.CorrectionMode.CorrectToPreviousValue)
        self.setValue(value)

    # -- Qt's text <-> value hooks ------------------------------------------------------------

    def textFromValue(self, value: float) -> str:
        return format_number(value, self.locale(), self.digits)

    def valueFromText(self, text: str) -> float:
        value = parse_number(self._strip_affixes(text), self.locale())
        return self.value() if value is None else value

    def validate(self, text: str, pos: int) -> Any:
        state = number_state(self._strip_affixes(text), self.locale(), self.minimum(),
                             self.maximum())
        return state, text, pos

    def fixup(self, text: str) -> str:
        return text

    def _strip_affixes(self, text: str) -> str:
        if self.prefix() and text.startswith(self.prefix()):
            text = text[len(self.prefix()):]
        if self.suffix() and text.endswith(self.suffix()):
            text = text[: -len(self.suffix())]
        return text

    # -- behaviour ------------------------------------------------------------------------------

    def stepBy(self, steps: int) -> None:
        v = self.value()
        if self.log_step and v > 0:
            self.setValue(min(max(v * 10.0 ** steps, self.minimum()), self.maximum()))
            self.selectAll()
            return
        super().stepBy(steps)

    def is_editing(self) -> bool:
        """The analyst is typing a value that is not committed yet."""
        return self.hasFocus() and self.lineEdit().text() != self.textFromValue(self.value())

    def set_value_unless_editing(self, value: float) -> None:
        """Show ``value`` (from the model) unless the analyst is typing in this field."""
        if not self.is_editing():
            self.setValue(value)

    def keyPressEvent(self, event: Any) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._check_text()
        super().keyPressEvent(event)

    def focusOutEvent(self, event: Any) -> None:
        self._check_text()  # before Qt puts the previous value back
        super().focusOutEvent(event)

    def _check_text(self) -> None:
        """Text that is not a number in range is refused out loud (the previous value is
        kept, and the message says so)."""
        text = self._strip_affixes(self.lineEdit().text())
        value = parse_number(text, self.locale())
        if value is not None and self.minimum() <= value <= self.maximum():
            return
        lo, hi = format_number(self.minimum(), self.locale()), format_number(
            self.maximum(), self.locale())
        what = "is not a number" if value is None else f"is outside {lo} … {hi}"
        message = (f"“{text.strip()}” {what}; kept {self.textFromValue(self.value())}. "
                   f"Type a number such as {format_number(0.005, self.locale())}.")
        self.setToolTip(message)
        QToolTip.showText(self.mapToGlobal(self.rect().bottomLeft()), message, self)
        self.invalidEntry.emit(message)


class NumberValidator(QValidator):
    """:func:`number_state` as a validator for a line edit."""

    def __init__(self, low: float, high: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.low, self.high = low, high

    def validate(self, text: str, pos: int) -> Any:
        return number_state(text, self.locale(), self.low, self.high), text, pos


class NumberEdit(QLineEdit):
    """A free-form real number (tolerance, regularisation): locale-aware, scientific
    notation; :meth:`number` raises ``ValueError`` with a message for bad text."""

    def __init__(self, value: float, label: str, *, low: float = 0.0, high: float = 1e300,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label, self.low, self.high = label, low, high
        self.setValidator(NumberValidator(low, high, self))
        self.set_number(value)
        self.textChanged.connect(lambda _t: self._mark(True))

    def set_number(self, value: float) -> None:
        self.setText(format_number(value, self.locale(), 12))

    def number(self) -> float:
        value = parse_number(self.text(), self.locale())
        if value is None or not self.low <= value <= self.high:
            self._mark(False)
            what = "is not a number" if value is None else "is out of range"
            raise ValueError(
                f"{self.label}: “{self.text().strip()}” {what}; type a number of at least "
                f"{format_number(self.low, self.locale())}, such as "
                f"{format_number(0.001, self.locale())} or 1e-8.")
        return value

    def _mark(self, ok: bool) -> None:
        self.setStyleSheet("" if ok else "QLineEdit { border: 2px solid #D55E00; }")
