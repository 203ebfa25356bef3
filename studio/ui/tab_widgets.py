"""The widgets every tab shares: the status line (with the failure action) and the seed field.

* :class:`StatusLine`: one line (wrapping) of what the tab's job is doing; ``say`` for news, ``warn``
  for a ⚠ problem, ``fail`` for a failed job (the message and the
  :class:`~studio.ui.job_errors.FailureAction` that fits it, under the text).
* :class:`SeedField`: a request's ``seed`` field. ``value()`` is the seed, or ``None`` for a new random
  seed each run; ``setValue(None)`` turns Random on, ``setValue(n)`` fixes ``n``. ``show_used(n)``
  shows the seed a result was made with and arms ♻, which puts it back, fixed.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..jobs import JobError
from .fields import spin_box_for
from .job_errors import FailureAction

WARN_STYLE = "color: #d9822b;"


class StatusLine(QWidget):
    """A tab's status line: the label and, under it, the failure action (hidden until a job fails).

    ``scrolling``: a long message (the out-of-memory advice) scrolls inside a fixed column instead of
    growing it (the Image tab's narrow Generate column)."""

    def __init__(self, parent: QWidget | None = None, *, scrolling: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("statusLine")
        self.label = QLabel("")
        self.label.setObjectName("statusText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # a long message never widens the window: the label wraps in the room it is given
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.action = FailureAction()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        if scrolling:
            scroll = QScrollArea()
            scroll.setWidget(self.label)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            scroll.setStyleSheet(
                "QScrollArea { background: transparent; } QScrollArea > QWidget > QWidget { background: transparent; }"
            )
            layout.addWidget(scroll, 1)
        else:
            layout.addWidget(self.label)
        row = QHBoxLayout()
        row.addWidget(self.action)
        row.addStretch(1)
        layout.addLayout(row)

    def text(self) -> str:
        return self.label.text()

    @Slot(str)
    def say(self, message: str) -> None:
        """News (Queued…, Done, a notice)."""
        self.label.setText(message)
        self.label.setStyleSheet("")

    @Slot(str)
    def warn(self, message: str) -> None:
        """A problem: ⚠ and the message, in orange."""
        self.label.setText(message if message.startswith("⚠") else f"⚠ {message}")
        self.label.setStyleSheet(WARN_STYLE)

    def fail(self, error: JobError, request) -> str:
        """A failed job: its message, and the action that fits it (its name, or '')."""
        self.warn(error.message)
        return self.action.offer(error, request)

    @Slot()
    def clear(self) -> None:
        self.say("")
        self.action.clear()


class SeedField(QWidget):
    """The ``seed`` field of ``request_cls``: a box (the field's own range), Random, ♻ and the seed used."""

    reused = Signal(object)  # ♻ put this seed back (an int; seeds reach 2**32-1)

    def __init__(self, request_cls: type, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("seedField")
        self.box = spin_box_for(request_cls, "seed")
        self.box.setEnabled(False)
        self.random = QCheckBox("Random")
        self.random.setToolTip("A new seed for every run; the seed used is shown with the result")
        self.random.setChecked(True)
        self.random.toggled.connect(self._on_random_toggled)
        self.reuse_button = QToolButton()
        self.reuse_button.setText("♻")
        self.reuse_button.setToolTip("Reuse the seed of the result shown")
        self.reuse_button.setEnabled(False)
        self.reuse_button.clicked.connect(self.reuse_used)
        self.used = QLabel("")
        self.used.setObjectName("seedUsed")
        self.used.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.used.setVisible(False)
        self.last: int | None = None  # the seed of the result shown
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.box, 1)
        row.addWidget(self.random)
        row.addWidget(self.reuse_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.used)

    # --- the value ---------------------------------------------------------------------------------------
    def value(self) -> int | None:
        """The fixed seed, or None: a new random seed each run."""
        return None if self.random.isChecked() else int(self.box.value())

    def setValue(self, seed: int | None) -> None:  # noqa: N802 - reads like the Qt boxes it replaces
        """``None``: Random; a whole number in range: that seed, fixed (anything else is ignored)."""
        if seed is None:
            self.random.setChecked(True)
            return
        if isinstance(seed, bool) or not isinstance(seed, int) or not self.minimum() <= seed <= self.maximum():
            return
        self.box.setValue(seed)
        self.random.setChecked(False)

    def is_random(self) -> bool:
        return self.random.isChecked()

    def minimum(self) -> int:
        return int(self.box.minimum())

    def maximum(self) -> int:
        return int(self.box.maximum())

    @Slot(bool)
    def _on_random_toggled(self, on: bool) -> None:
        self.box.setEnabled(not on)

    # --- the seed used -------------------------------------------------------------------------------------
    def show_used(self, seed: int | None) -> None:
        """Show the seed of the result shown (or hide the line) and arm ♻."""
        self.last = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
        self.used.setVisible(self.last is not None)
        self.used.setText(f"Seed used: <b>{self.last}</b>" if self.last is not None else "")
        self.reuse_button.setEnabled(self.last is not None)
        if self.last is not None:
            self.reuse_button.setToolTip(f"Reuse seed {self.last} (of the result shown)")

    def reuse(self, seed: int | None = None) -> bool:
        """Put ``seed`` (default: the seed used) back, fixed; False when there is none in range."""
        seed = self.last if seed is None else seed
        if not isinstance(seed, int) or isinstance(seed, bool) or not self.minimum() <= seed <= self.maximum():
            return False
        self.setValue(seed)
        self.reused.emit(seed)
        return True

    @Slot()
    def reuse_used(self) -> None:
        self.reuse()
