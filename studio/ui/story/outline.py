"""The Story tab's outline: an idea drafted into a story by the text model, or a story typed or pasted;
"Make scenes" turns its paragraphs into scenes; the text model can suggest every scene's picture prompt.

The text-model jobs are ordinary text requests through the job queue; the panel reports what came back
with ``drafted()`` / ``prompts_suggested(list)`` and says what is happening with ``message(str)``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QVBoxLayout

from ...errors import StudioError
from ...requests import ChatMessage, TextRequest
from ...story import writing
from ..job_errors import FailureAction
from ..model_picker import ModelPicker

#: the JobHandle signals a text-model job is followed by (to ``_on_<signal>``)
TEXT_SIGNALS = ("token", "finished", "cancelled", "failed")
REPLY_TOKENS = 700


class OutlinePanel(QGroupBox):
    drafted = Signal()  # the outline holds the text model's story
    prompts_suggested = Signal(list)  # one picture prompt per scene ("" where none came back)
    message = Signal(str)  # for the tab's status line
    busy_changed = Signal(bool)

    def __init__(self, jobs, catalog, host=None, parent=None) -> None:
        super().__init__("Outline", parent)
        self.jobs = jobs
        self.handle = None
        self._task = ""  # "draft" | "prompts"
        self._reply: list[str] = []
        self._scene_count = 0
        self.idea = QLineEdit()
        self.idea.setPlaceholderText("An idea: a fox who is afraid of snow learns to love winter")
        self.text_model = ModelPicker("text", catalog)
        self.text_model.setToolTip("The text model that drafts the story and suggests picture prompts")
        self.draft_button = QPushButton("Draft with the text model")
        self.draft_button.clicked.connect(self.draft)
        self.outline = QPlainTextEdit()
        self.outline.setObjectName("storyOutline")
        self.outline.setPlaceholderText("Type or paste the story here. Each paragraph (a blank line between) is a scene.")
        self.scenes_button = QPushButton("Make scenes from the paragraphs")
        self.style = QLineEdit()
        self.style.setPlaceholderText("one style line added to every picture prompt: watercolour, soft light")
        self.prompts_button = QPushButton("Suggest picture prompts")
        self.failure_action = FailureAction()
        if host is not None:
            self.failure_action.download_requested.connect(host.download_model)
        idea_row = QHBoxLayout()
        idea_row.addWidget(self.idea, 1)
        idea_row.addWidget(self.text_model)
        idea_row.addWidget(self.draft_button)
        style_row = QHBoxLayout()
        style_row.addWidget(QLabel("Style"))
        style_row.addWidget(self.style, 1)
        style_row.addWidget(self.prompts_button)
        column = QVBoxLayout(self)
        column.addLayout(idea_row)
        column.addWidget(self.outline, 1)
        column.addWidget(self.scenes_button)
        column.addLayout(style_row)
        column.addWidget(self.failure_action)

    @Slot()
    def draft(self) -> None:
        idea = self.idea.text().strip()
        if not idea:
            self.message.emit("⚠ Type an idea first.")
            return
        self._ask("draft", writing.DRAFT_SYSTEM, writing.draft_prompt(idea))

    def suggest(self, narrations: list[str]) -> None:
        """Ask for one picture prompt per scene (``narrations`` in order)."""
        if not narrations:
            self.message.emit("⚠ Make scenes from the outline first.")
            return
        self._scene_count = len(narrations)
        self._ask("prompts", writing.PROMPTS_SYSTEM, writing.prompts_prompt(narrations))

    def _ask(self, task: str, system: str, prompt: str) -> None:
        if self.handle is not None:
            self.message.emit("⚠ The text model is still working on the last request.")
            return
        request = TextRequest(messages=(ChatMessage("user", prompt),), system_prompt=system,
                              max_new_tokens=REPLY_TOKENS, temperature=0.7, model=self.text_model.current_model_spec())
        try:
            handle = self.jobs.submit(request)
        except StudioError as exc:
            self.message.emit(f"⚠ {exc}")
            return
        for name in TEXT_SIGNALS:
            getattr(handle, name).connect(getattr(self, f"_on_{name}"))
        self.handle, self._task, self._reply = handle, task, []
        self.failure_action.clear()
        self._busy(True)
        self.message.emit("Asking the text model…")

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()

    def _busy(self, busy: bool) -> None:
        self.draft_button.setEnabled(not busy)
        self.prompts_button.setEnabled(not busy)
        self.busy_changed.emit(busy)

    def _end(self) -> None:
        self.handle = None
        self._busy(False)

    @Slot(object)
    def _on_token(self, token) -> None:
        self._reply.append(token.text)
        if self._task == "draft":
            self.outline.setPlainText("".join(self._reply))

    @Slot(object)
    def _on_finished(self, result) -> None:
        reply = "".join(self._reply).strip()
        self._end()
        if self._task == "draft":
            self.outline.setPlainText(reply)
            self.message.emit("Drafted. Edit it, then Make scenes from the paragraphs.")
            self.drafted.emit()
        else:
            prompts = writing.parse_prompts(reply, self._scene_count)
            self.message.emit(f"Suggested {sum(1 for p in prompts if p)} picture prompt(s).")
            self.prompts_suggested.emit(prompts)

    @Slot(object)
    def _on_cancelled(self, result) -> None:
        self._end()
        self.message.emit("Cancelled.")

    @Slot(object)
    def _on_failed(self, error) -> None:
        request = self.handle.request if self.handle is not None else None
        self._end()
        self.message.emit(f"⚠ {error.message}")
        self.failure_action.offer(error, request)
