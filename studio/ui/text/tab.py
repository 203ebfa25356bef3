"""The Text tab: chat with a local language model, streaming tokens, Stop, saved conversations."""

from __future__ import annotations

import json
import uuid

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut, QTextBlockFormat, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...errors import StudioError
from ...events import TextStats, Token
from ...jobs import JobError, JobHandle
from ...library.atomic import atomic_write_text
from ...library.chat_tree import ChatTree
from ...library.targets import check_output
from ...requests import ChatMessage, TextRequest
from ..fields import spin_box_for
from ..job_runner import JobRunner
from ..model_picker import ModelPicker
from ..send_to import SendToMenu
from ..tab_api import StudioTab, TabContext
from ..tab_widgets import SeedField, StatusLine
from . import branches

ROLE_LABELS = {"user": "You", "assistant": "Assistant", "system": "System"}
EXPORT_FORMATS = {".md": "md", ".markdown": "md", ".json": "json"}


def conversation_markdown(messages: list[dict], system_prompt: str = "") -> str:
    lines = []
    if system_prompt:
        lines += ["## System", "", system_prompt, ""]
    for m in messages:
        lines += [f"## {ROLE_LABELS.get(m['role'], m['role'])}", "", m["content"], ""]
    return "\n".join(lines).rstrip() + "\n"


def context_text(used: int, limit: int) -> str:
    """' · context 120/8,192' where the model's context is known (a server may not say), else the tokens used."""
    if limit > 0:
        return f" · context {used:,}/{limit:,}"
    return f" · context {used:,}" if used > 0 else ""


class TextTab(QWidget, StudioTab):
    """Chat UI. "Send to …" hands the selection or the last reply to the tabs that accept text."""

    def __init__(self, ctx: TabContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs = ctx.jobs
        self.library = ctx.library
        self.catalog = ctx.catalog
        self.servers = ctx.servers  # OpenAI-compatible servers: their models join the picker
        self.host = ctx.host
        self.ctx = ctx  # ctx.config: llama.cpp threads / GPU layers (Settings → Preferences)
        self.messages: list[dict] = []  # the branch shown (plus the message being answered)
        self.tree = ChatTree()  # every branch of the conversation (editing a message starts one)
        self.editing: int | None = None  # index of the message of yours being edited
        self.conversation_id = uuid.uuid4().hex
        self._reply_parts: list[str] = []
        self._build()
        self.runner = JobRunner(self, jobs, self.status_line, self.host)  # one reply at a time
        self.runner.busy_changed.connect(self.set_busy)
        self.refresh_conversations()
        self._render()

    # --- layout ---
    def _build(self) -> None:
        # conversations (left)
        self.conversation_list = QListWidget()
        self.conversation_list.setObjectName("conversationList")
        self.conversation_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.conversation_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.conversation_list.itemActivated.connect(self._open_conversation_item)
        self.conversation_list.itemClicked.connect(self._open_conversation_item)
        new_btn = QPushButton("New chat")
        new_btn.clicked.connect(self.new_conversation)
        del_btn = QPushButton("Delete")
        del_btn.clicked.connect(self._delete_conversation)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(QLabel("<b>Conversations</b>"))
        lv.addWidget(self.conversation_list, 1)
        row = QHBoxLayout()
        row.addWidget(new_btn)
        row.addWidget(del_btn)
        lv.addLayout(row)

        # transcript + input (centre)
        self.transcript = QTextBrowser()
        self.transcript.setObjectName("transcript")
        self.transcript.setOpenExternalLinks(False)
        self.transcript.setOpenLinks(False)  # "✎ Edit" and "‹ 1/2 ›" are handled here
        self.transcript.anchorClicked.connect(self._on_link)
        self.input = QPlainTextEdit()
        self.input.setObjectName("prompt")
        self.input.setPlaceholderText("Type a message — Ctrl+Enter sends")
        self.input.setMaximumHeight(110)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        self.cancel_button = QPushButton("Stop")
        self.cancel_button.setToolTip("Stop the reply; what was written so far is kept")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        QShortcut(QKeySequence("Ctrl+Return"), self.input, activated=self.send)
        QShortcut(QKeySequence("Escape"), self.input, activated=self.cancel_edit)
        self.stats_label = QLabel("")
        self.stats_label.setObjectName("textStats")
        # long statistics must never widen the window: the label gives way to the buttons
        self.stats_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_line = StatusLine()
        self.regenerate_button = QToolButton()
        self.regenerate_button.setText("Regenerate")
        self.regenerate_button.setToolTip("Ask again for the last reply")
        self.regenerate_button.clicked.connect(self.regenerate)
        copy_btn = QToolButton()
        copy_btn.setText("Copy reply")
        copy_btn.clicked.connect(self.copy_last_reply)
        export_btn = QToolButton()
        export_btn.setText("Export…")
        export_btn.clicked.connect(self._export_dialog)
        self.send_to_button = QToolButton()
        self.send_to_button.setText("Send to…")
        self.send_to_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.send_to_menu = SendToMenu(self.host, "text", self.text_to_send, exclude="text", parent=self.send_to_button)
        self.send_to_button.setMenu(self.send_to_menu)

        centre = QWidget()
        cv = QVBoxLayout(centre)
        cv.setContentsMargins(0, 0, 0, 0)
        cv.addWidget(self.transcript, 1)
        cv.addWidget(self.stats_label)
        tools = QHBoxLayout()
        tools.addStretch(1)
        tools.addWidget(self.regenerate_button)
        tools.addWidget(copy_btn)
        tools.addWidget(export_btn)
        tools.addWidget(self.send_to_button)
        cv.addLayout(tools)
        cv.addWidget(self.status_line)
        cv.addWidget(self.input)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.send_button)
        cv.addLayout(buttons)

        # settings (right)
        self.model_picker = ModelPicker("text", self.catalog, servers=self.servers)
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setObjectName("systemPrompt")
        self.system_prompt.setPlaceholderText("e.g. You are a concise assistant.")
        self.system_prompt.setMaximumHeight(90)
        self.temperature = spin_box_for(TextRequest, "temperature")
        self.top_p = spin_box_for(TextRequest, "top_p")
        self.top_k = spin_box_for(TextRequest, "top_k")
        self.repetition_penalty = spin_box_for(TextRequest, "repetition_penalty")
        self.max_new_tokens = spin_box_for(TextRequest, "max_new_tokens")
        self.stop_text = QLineEdit()
        self.stop_text.setObjectName("stopSequence")
        self.stop_text.setPlaceholderText("optional, e.g. ###")
        self.stop_text.setToolTip("The reply ends where this text appears (it is not shown); empty = no stop sequence")
        self.seed = SeedField(TextRequest)
        right = QWidget()
        right.setMinimumWidth(330)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        right_layout.addLayout(form)
        right_layout.addStretch(1)
        form.addRow("Model", self.model_picker)
        form.addRow("System prompt", self.system_prompt)
        form.addRow("Temperature", self.temperature)
        form.addRow("Top-p", self.top_p)
        form.addRow("Top-k", self.top_k)
        form.addRow("Repetition penalty", self.repetition_penalty)
        form.addRow("Max new tokens", self.max_new_tokens)
        form.addRow("Stop at", self.stop_text)
        form.addRow("Seed", self.seed)
        self.model_picker.spec_changed.connect(self._on_model_changed)
        self._on_model_changed()

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(centre)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([190, 640, 340])
        layout = QHBoxLayout(self)
        layout.addWidget(splitter)

    # --- sending ---
    def build_request(self, text: str) -> TextRequest:
        config = self.ctx.config  # the configuration in force now
        history = [ChatMessage(m["role"], m["content"]) for m in self.messages]
        return TextRequest(
            messages=tuple(history + [ChatMessage("user", text)]),
            system_prompt=self.system_prompt.toPlainText(),
            model=self.model_picker.current_model_spec(),
            endpoint=self.model_picker.current_endpoint(),
            max_new_tokens=self.max_new_tokens.value(),
            temperature=round(self.temperature.value(), 4),
            top_p=round(self.top_p.value(), 4),
            top_k=self.top_k.value(),
            repetition_penalty=round(self.repetition_penalty.value(), 4),
            seed=self.seed.value(),
            conversation_id=self.conversation_id,
            stop=(self.stop_text.text(),) if self.stop_text.text() else (),
            threads=config.text_threads,
            gpu_layers=config.text_gpu_layers,
        )

    #: the settings the OpenAI API has no word for: a server's model leaves them to the server's defaults
    LOCAL_ONLY = ("top_k", "repetition_penalty")

    @Slot()
    @Slot(str)
    def _on_model_changed(self, _spec: str = "") -> None:
        remote = self.model_picker.is_remote()
        if not hasattr(self, "_local_tips"):
            self._local_tips = {name: getattr(self, name).toolTip() for name in self.LOCAL_ONLY}
        for name in self.LOCAL_ONLY:
            widget = getattr(self, name)
            widget.setEnabled(not remote)
            widget.setToolTip("Left to the server's defaults (the OpenAI API has no such setting)." if remote
                              else self._local_tips[name])

    @property
    def job(self) -> JobHandle | None:
        """The reply being generated, None when idle."""
        return self.runner.job

    @Slot()
    def send(self) -> None:
        if self.runner.busy:
            return
        shown = self.messages
        if self.editing is not None:  # the edited message replaces it and everything after: a new branch
            self.messages = self.messages[: self.editing]
        if self._submit(self.input.toPlainText().strip()):
            self.input.clear()
            self.editing = None
        else:
            self.messages = shown

    # --- branches: edit an earlier message, switch between versions ---
    def edit_message(self, index: int) -> bool:
        """Put your message at ``index`` in the box to change it; Send answers it as a new branch (the
        old one stays, ‹ › switches back). False while a reply streams or for a reply."""
        if self.runner.busy or not 0 <= index < len(self.messages):
            return False
        if self.messages[index]["role"] != "user":
            return False
        self.editing = index
        self.input.setPlainText(self.messages[index]["content"])
        self.input.setFocus()
        self.status_line.say("Editing your message: Send answers it as a new branch (the old one stays). "
                             "Esc cancels.")
        self._render()
        return True

    @Slot()
    def cancel_edit(self) -> None:
        if self.editing is not None:
            self.editing = None
            self.input.clear()
            self.status_line.clear()
            self._render()

    def switch_branch(self, index: int, step: int) -> bool:
        """Show the previous (-1) or next (+1) version of the message at ``index`` and what followed it;
        the choice is saved with the conversation."""
        if self.runner.busy:
            return False
        path = self.tree.switch(self.messages, index, step)
        if path == self.messages:
            return False
        self.messages = path
        self.editing = None
        if self.library.conversations_dir().joinpath(f"{self.conversation_id}.json").exists():
            self.library.save_conversation({
                **self._saved_conversation(), "messages": path})
        self._render()
        return True

    def _saved_conversation(self) -> dict:
        try:
            return self.library.load_conversation(self.conversation_id)
        except (OSError, ValueError):
            return {"id": self.conversation_id}

    @Slot(QUrl)
    def _on_link(self, url: QUrl) -> None:
        link = branches.parse(url)
        if link is None:
            return
        action, index = link
        if action == "edit":
            self.edit_message(index)
        else:
            self.switch_branch(index, -1 if action == "prev" else 1)

    @Slot()
    def regenerate(self) -> None:
        """Ask again for the last reply (a new seed unless the seed is fixed)."""
        if self.runner.busy or len(self.messages) < 2 or self.messages[-1]["role"] != "assistant":
            return
        reply, question = self.messages.pop(), self.messages.pop()
        if not self._submit(question["content"]):
            self.messages += [question, reply]

    def _submit(self, text: str) -> bool:
        try:
            request = self.build_request(text)
        except StudioError as exc:
            self.status_line.warn(str(exc))
            return False
        if self.runner.submit(request) is None:
            return False
        self.messages.append({"role": "user", "content": text})
        self._reply_parts = []
        self._render(streaming=True)
        return True

    @Slot()
    def cancel(self) -> None:
        """Stop the reply; what was written so far is kept."""
        self.runner.cancel()

    @Slot(bool)
    def set_busy(self, busy: bool) -> None:
        self.send_button.setEnabled(not busy)
        self.regenerate_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    # --- job events: the runner connects each JobHandle signal to the slot of its name ---
    @Slot()
    def on_started(self) -> None:
        self.status_line.say("Starting…")

    @Slot(str)
    def on_status(self, message: str) -> None:
        self.status_line.say(message)

    @Slot(str)
    def on_notice(self, message: str) -> None:
        self.status_line.say(f"ℹ {message}")

    @Slot(object)
    def on_token(self, token: Token) -> None:
        self._reply_parts.append(token.text)
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(token.text, QTextCharFormat())  # plain, whatever the format before it
        self.transcript.verticalScrollBar().setValue(self.transcript.verticalScrollBar().maximum())
        self.stats_label.setText(
            f"{token.count} tokens · {token.tokens_per_s:.1f} tok/s{context_text(token.context_used, token.context_max)}"
        )

    @Slot(object)
    def on_finished(self, result) -> None:
        self._end_turn(result, "")

    @Slot(object)
    def on_cancelled(self, result) -> None:
        self._end_turn(result, "Stopped.")

    @Slot(object)
    def on_failed(self, error: JobError) -> None:
        """The runner shows the message and its action; the user's message goes back to the input box
        so nothing typed is lost. A reply cut off part way (a server that went away) stays, as it was saved."""
        partial = "".join(self._reply_parts)
        if partial.strip():
            self.messages.append({"role": "assistant", "content": partial})
            self._render()
            self.refresh_conversations()
            return
        last = self.messages.pop() if self.messages and self.messages[-1]["role"] == "user" else None
        if last is not None and not self.input.toPlainText().strip():
            self.input.setPlainText(last["content"])
        if self.tree.nodes:  # an edit or a regenerate that failed: the branch shown before comes back
            self.messages = self.tree.path()
        self._render()

    def _end_turn(self, result, note: str) -> None:
        reply = "".join(self._reply_parts)
        for item in getattr(result, "items", []):
            reply = item.params.get("reply", reply)
        if reply or note != "Stopped.":
            self.messages.append({"role": "assistant", "content": reply})
            self.tree.follow(self.messages)  # as the library saved it: a new branch where it differs
        elif self.messages and self.messages[-1]["role"] == "user":
            self.input.setPlainText(self.messages.pop()["content"])  # stopped before any token
        stats = getattr(result, "stats", None)
        if isinstance(stats, TextStats):
            self.stats_label.setText(
                f"{stats.tokens} tokens · {stats.tokens_per_s:.1f} tok/s"
                f"{context_text(stats.context_used, stats.context_max)} · {stats.device}"
            )
        self.status_line.say(note)
        self._render()
        self.refresh_conversations()

    # --- transcript ---
    def _render(self, streaming: bool = False) -> None:
        """Show the conversation as Markdown (replies often use lists, code and emphasis)."""
        if not self.messages:
            self.transcript.setHtml(
                "<p style='color:#888'>Start a conversation below. The bundled SmolLM2 model runs offline; "
                "pick a bigger model on the right once you have downloaded one (Models → Manage models…).</p>"
            )
            return
        blocks = []
        idle = not streaming and not self.runner.busy
        for i, m in enumerate(self.messages):
            label = ROLE_LABELS.get(m["role"], m["role"])
            if i == self.editing:
                label += " (editing…)"
            body = m["content"] if m["role"] == "assistant" else _escape_markdown(m["content"])
            links = branches.controls(self.tree, self.messages, i, editable=idle) if idle else ""
            blocks.append(f"**{label}**\n\n{body}" + (f"\n\n{links}" if links else ""))
        if streaming:
            blocks.append("**Assistant**\n\n")
        self.transcript.setMarkdown("\n\n---\n\n".join(blocks))
        cursor = self.transcript.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if streaming:  # the reply streams into its own plain block, under the bold heading
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        self.transcript.setTextCursor(cursor)
        self.transcript.verticalScrollBar().setValue(self.transcript.verticalScrollBar().maximum())

    def transcript_text(self) -> str:
        return self.transcript.toPlainText()

    # --- conversations ---
    def refresh_conversations(self) -> None:
        self.conversation_list.clear()
        for conv in self.library.conversations():
            title = conv.get("title") or "(untitled)"
            item = QListWidgetItem(title)
            item.setData(Qt.ItemDataRole.UserRole, conv.get("id"))
            item.setToolTip(title)
            self.conversation_list.addItem(item)
            if conv.get("id") == self.conversation_id:
                item.setSelected(True)

    @Slot()
    def new_conversation(self) -> None:
        if self.runner.busy:
            return
        self.messages = []
        self.tree = ChatTree()
        self.editing = None
        self.conversation_id = uuid.uuid4().hex
        self.stats_label.setText("")
        self.status_line.clear()
        self._render()
        self.conversation_list.clearSelection()

    def open_conversation(self, conv_id: str) -> None:
        if self.runner.busy:
            return
        try:
            conv = self.library.load_conversation(conv_id)
        except (OSError, ValueError) as exc:
            self.status_line.warn(f"Could not open that conversation: {exc}")
            return
        self.conversation_id = conv.get("id", conv_id)
        self.messages = [
            {"role": m.get("role", "user"), "content": str(m.get("content", ""))}
            for m in conv.get("messages", [])
            if isinstance(m, dict)
        ]
        self.tree = ChatTree.from_dict(conv.get("tree"), self.messages)
        self.editing = None
        self.system_prompt.setPlainText(conv.get("system_prompt", ""))
        if conv.get("model"):
            self.model_picker.set_model_spec(conv["model"], conv.get("endpoint", ""))
        self.stats_label.setText("")
        self._render()

    @Slot(QListWidgetItem)
    def _open_conversation_item(self, item: QListWidgetItem) -> None:
        self.open_conversation(item.data(Qt.ItemDataRole.UserRole))

    @Slot()
    def _delete_conversation(self) -> None:
        item = self.conversation_list.currentItem()
        if item is None:
            return
        conv_id = item.data(Qt.ItemDataRole.UserRole)
        self.library.delete_conversation(conv_id)
        if conv_id == self.conversation_id:
            self.new_conversation()
        self.refresh_conversations()

    # --- copy, export, send to ---
    def last_reply(self) -> str:
        return next((m["content"] for m in reversed(self.messages) if m["role"] == "assistant"), "")

    @Slot()
    def copy_last_reply(self) -> None:
        QGuiApplication.clipboard().setText(self.last_reply())

    def export(self, path: str) -> None:
        """Markdown for .md, JSON (messages + system prompt) for .json; the path is checked like the
        CLI's --out (other extensions, folders … refused with StudioError)."""
        if check_output(path, EXPORT_FORMATS, flag="Export").format == "md":
            atomic_write_text(path, conversation_markdown(self.messages, self.system_prompt.toPlainText()))
        else:
            data = {
                "id": self.conversation_id,
                "system_prompt": self.system_prompt.toPlainText(),
                "model": self.model_picker.current_model_spec(),
                "messages": self.messages,
            }
            atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2))

    @Slot()
    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export conversation", "conversation.md", "Markdown (*.md);;JSON (*.json)"
        )
        if path:
            try:
                self.export(path)
            except (OSError, StudioError) as exc:
                QMessageBox.warning(self, "Export failed", f"Could not write {path}: {exc}")

    def text_to_send(self) -> str:
        """What "Send to …" hands over: the selected transcript text, else the last reply."""
        return (self.transcript.textCursor().selectedText() or self.last_reply()).replace("\u2029", "\n")

    # --- the tab interface (studio.ui.tab_api) ---
    def refresh_models(self) -> None:
        self.model_picker.refresh()

    def open_item(self, saved) -> bool:
        """A saved reply opens its conversation (not while a reply is streaming)."""
        params = saved.params or {}
        conv_id = (params.get("conversation") or {}).get("id") or params.get("conversation_id")
        if not conv_id or self.runner.busy:
            return False
        self.open_conversation(conv_id)
        return self.conversation_id == conv_id

    def reuse_settings(self, saved) -> bool:
        """History → Reuse settings: the reply's model, system prompt, sampling and seed in the form, and
        the message that asked for it in the box, ready to send again (not while a reply streams)."""
        if self.runner.busy:
            return False
        params = saved.params if isinstance(saved.params, dict) else {}
        if isinstance(params.get("model"), str) and params["model"]:
            self.model_picker.set_model_spec(params["model"])
        if isinstance(params.get("system_prompt"), str):
            self.system_prompt.setPlainText(params["system_prompt"])
        boxes = {"temperature": self.temperature, "top_p": self.top_p, "top_k": self.top_k,
                 "repetition_penalty": self.repetition_penalty, "max_new_tokens": self.max_new_tokens}
        for name, box in boxes.items():
            value = params.get(name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                box.setValue(value)
        seed = params.get("seed")
        if isinstance(seed, int) and not isinstance(seed, bool):
            self.seed.setValue(seed)
        users = [m.get("content") for m in params.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
        if users and isinstance(users[-1], str):
            self.input.setPlainText(users[-1])
        return True

    def receive_text(self, text: str) -> bool:
        """Text from another tab becomes the message being typed."""
        self.input.setPlainText(text)
        self.input.setFocus()
        return True


def _escape_markdown(text: str) -> str:
    """The person's own text shown as typed (no accidental headings, lists or emphasis)."""
    out = []
    for line in text.split("\n"):
        line = "".join("\\" + c if c in "\\`*_{}[]<>#+-.!|" else c for c in line)
        out.append(line)
    return "  \n".join(out)

