"""The Story tab's outline: an idea drafted into a story by the text model, or a story typed or pasted;
"Make scenes" turns its paragraphs into scenes; the text model can suggest every scene's picture prompt.

The text-model jobs are ordinary text requests, which the panel hands to the tab (``ask(request)``) to
run through the tab's job runner; the tab passes the reply's tokens back (:meth:`add_token`,
:meth:`finish`). The panel reports what came back with ``drafted()`` / ``prompts_suggested(list)``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QPushButton, QVBoxLayout

from ...requests import ChatMessage, TextRequest
from ...story import writing
from ..model_picker import ModelPicker

REPLY_TOKENS = 700


class OutlinePanel(QGroupBox):
    drafted = Signal()  # the outline holds the text model's story
    prompts_suggested = Signal(list)  # one picture prompt per scene ("" where none came back)
    message = Signal(str)  # for the tab's status line
    ask = Signal(object)  # a TextRequest for the tab to run

    def __init__(self, catalog, parent=None) -> None:
        super().__init__("Outline", parent)
        self.task = ""  # the text job asked for and not ended: "draft" | "prompts"
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
        request = TextRequest(messages=(ChatMessage("user", prompt),), system_prompt=system,
                              max_new_tokens=REPLY_TOKENS, temperature=0.7, model=self.text_model.current_model_spec())
        self.task, self._reply = task, []
        self.ask.emit(request)

    def refused(self) -> None:
        """The tab could not run the request (it said why)."""
        self.task = ""

    def set_busy(self, busy: bool) -> None:
        self.draft_button.setEnabled(not busy)
        self.prompts_button.setEnabled(not busy)

    def add_token(self, token) -> None:
        self._reply.append(token.text)
        if self.task == "draft":
            self.outline.setPlainText("".join(self._reply))

    def finish(self) -> None:
        """The text job ended well: the outline, or the prompts, from its reply."""
        reply, task = "".join(self._reply).strip(), self.task
        self.task = ""
        if task == "draft":
            self.outline.setPlainText(reply)
            self.message.emit("Drafted. Edit it, then Make scenes from the paragraphs.")
            self.drafted.emit()
        elif task == "prompts":
            prompts = writing.parse_prompts(reply, self._scene_count)
            self.message.emit(f"Suggested {sum(1 for p in prompts if p)} picture prompt(s).")
            self.prompts_suggested.emit(prompts)

    def ended(self) -> None:
        """The text job was cancelled or failed (the tab's status line says which)."""
        self.task = ""
