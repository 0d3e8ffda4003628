"""The vocabulary as an editable list: add, remove, rename, enable/disable, reset, load, save.

The editor keeps its own list of (label, enabled) entries and sends each change to the
engine as a small vocabulary edit (``apply_edit(fn)``, where ``fn(vocabulary)`` runs in
the pipeline's worker, which re-encodes only what changed). Refused input (an empty or
duplicate label, an invalid template) shows an inline message and changes nothing.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Sequence

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ezsr_live.errors import EzsrError
from ezsr_live.model.builtin_labels import BUILTIN_LABEL_SETS
from ezsr_live.model.templates import BUILTIN_TEMPLATES, TemplateSet, get_templates
from ezsr_live.model.vocabulary import label_key, read_label_entries

from .labels import check_new_labels, parse_template_text, split_label_text, write_label_file

log = logging.getLogger(__name__)

VocabularyEdit = Callable[[Any], None]
#: built-in template sets offered in the editor (aliases left out)
_TEMPLATE_CHOICES = ("photo", "simple", "openai")


class LabelEditor(QWidget):
    """Vocabulary and prompt-template editor; see the module docstring."""

    #: emitted after every accepted edit (labels or templates), with the active labels
    vocabularyEdited = Signal(list)

    def __init__(
        self,
        labels: Sequence[str],
        templates: TemplateSet,
        apply_edit: Callable[[VocabularyEdit], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._apply_edit = apply_edit
        self._entries: list[list[Any]] = [[label, True] for label in dict.fromkeys(labels)]
        self._syncing = False
        #: the templates last accepted (the box may hold an edit not applied yet)
        self.templates: tuple[str, ...] = tuple(templates.templates)
        #: the label file last loaded or saved (remembered between runs)
        self.last_file: str | None = None

        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.setToolTip("tick to enable, double-click to rename")
        self.list.itemChanged.connect(self._item_changed)
        self.input = QLineEdit()
        self.input.setPlaceholderText("add labels: cat, dog, coffee mug")
        self.input.setClearButtonEnabled(True)
        self.input.returnPressed.connect(self._add_clicked)
        self.add_button = QPushButton("Add")
        self.add_button.clicked.connect(self._add_clicked)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("remove the selected labels (Delete)")
        self.remove_button.clicked.connect(self._remove_clicked)
        # only while the list itself has the focus: Delete in the rename field or the
        # input line edits text there
        self.delete_action = QAction("Remove selected labels", self.list)
        # (Backspace too: the key labelled Delete on a Mac)
        self.delete_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Delete),
                                         QKeySequence(Qt.Key.Key_Backspace)])
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.delete_action.triggered.connect(self._remove_clicked)
        self.list.addAction(self.delete_action)
        self.reset_combo = QComboBox()
        self.reset_combo.addItem("Reset to…")
        self.reset_combo.addItems(sorted(BUILTIN_LABEL_SETS))
        self.reset_combo.activated.connect(self._reset_chosen)
        self.load_button = QPushButton("Load…")
        self.load_button.clicked.connect(self._load_clicked)
        self.save_button = QPushButton("Save…")
        self.save_button.clicked.connect(self._save_clicked)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #e0584a;")
        self.count = QLabel()

        self.templates_edit = QPlainTextEdit()
        self.templates_edit.setPlaceholderText("one template per line, with {} for the label")
        self.templates_edit.setMaximumHeight(90)
        self.templates_edit.setPlainText("\n".join(templates.templates))
        self.templates_combo = QComboBox()
        self.templates_combo.addItem("Built-in…")
        self.templates_combo.addItems(_TEMPLATE_CHOICES)
        self.templates_combo.activated.connect(self._templates_chosen)
        self.templates_apply = QPushButton("Apply templates")
        self.templates_apply.clicked.connect(self._templates_clicked)

        add_row = QHBoxLayout()
        add_row.addWidget(self.input, 1)
        add_row.addWidget(self.add_button)
        file_row = QHBoxLayout()
        for w in (self.remove_button, self.reset_combo, self.load_button, self.save_button):
            file_row.addWidget(w)
        labels_box = QGroupBox("Vocabulary")
        lb = QVBoxLayout(labels_box)
        lb.addLayout(add_row)
        lb.addWidget(self.message)
        lb.addWidget(self.list, 1)
        lb.addWidget(self.count)
        lb.addLayout(file_row)
        templates_box = QGroupBox("Prompt templates")
        tb = QVBoxLayout(templates_box)
        tb.addWidget(self.templates_edit)
        t_row = QHBoxLayout()
        t_row.addWidget(self.templates_combo)
        t_row.addWidget(self.templates_apply)
        tb.addLayout(t_row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(labels_box, 1)
        layout.addWidget(templates_box)
        self._rebuild_list()

    # -- reading -------------------------------------------------------------------
    def entries(self) -> list[tuple[str, bool]]:
        """Every label with its enabled flag, in order."""
        return [(label, enabled) for label, enabled in self._entries]

    def active_labels(self) -> list[str]:
        """The labels sent to the recogniser."""
        return [label for label, enabled in self._entries if enabled]

    def message_text(self) -> str:
        return self.message.text()

    # -- editing (public: used by the widgets, menus and tests) --------------------
    def add_text(self, text: str) -> list[str]:
        """Add the labels in ``text`` (a comma/line list); the labels accepted. Refused
        ones (empty, duplicate) are named in the inline message."""
        check = check_new_labels(split_label_text(text), (label for label, _ in self._entries))
        self._say(check.message)
        new = list(check.accepted)
        if new:
            self._entries.extend([label, True] for label in new)
            self._send(lambda v: v.add(*new))
        return new

    def remove(self, labels: Sequence[str]) -> bool:
        """Remove labels; at least one enabled label must remain."""
        doomed = set(labels)
        remaining = [e for e in self._entries if e[0] not in doomed]
        if not any(enabled for _, enabled in remaining):
            self._say("at least one label must stay enabled")
            return False
        active = set(self.active_labels())
        removed_active = [label for label in labels if label in active]
        self._entries = remaining
        self._say("")
        if removed_active:
            self._send(lambda v: v.remove(*removed_active))
        else:
            self._rebuild_list()
        return True

    def rename(self, old: str, new: str) -> bool:
        """Rename a label in place (only the new name is encoded)."""
        new = new.strip()
        others = (label for label, _ in self._entries if label != old)
        check = check_new_labels([new], others)
        if not check.accepted:
            self._say(check.message)
            self._rebuild_list()
            return False
        index = [label for label, _ in self._entries].index(old)
        enabled = self._entries[index][1]
        self._entries[index][0] = new
        self._say("")
        if enabled and new != old:
            self._send(lambda v: v.rename(old, new))
        else:
            self._rebuild_list()
        return True

    def set_enabled(self, label: str, enabled: bool) -> bool:
        """Enable or disable a label (a disabled label stays listed but is not scored)."""
        for entry in self._entries:
            if entry[0] == label:
                if entry[1] == enabled:
                    return True
                if not enabled and len(self.active_labels()) <= 1:
                    self._say("at least one label must stay enabled")
                    self._rebuild_list()
                    return False
                entry[1] = enabled
                break
        else:
            return False
        self._say("")
        self._send_active()
        return True

    def set_labels(self, labels: Sequence[str], disabled: Sequence[str] = ()) -> bool:
        """Replace the whole vocabulary (reset, load, restore); labels follow the rule of
        typed ones (no blanks, no case-insensitive repeats: the first spelling stays)."""
        unique = check_new_labels(labels, ()).accepted
        off = {label_key(label) for label in disabled}
        entries = [[label, label_key(label) not in off] for label in unique]
        if not any(enabled for _, enabled in entries):
            self._say("the vocabulary would be empty")
            return False
        self._entries = entries
        self._say("")
        self._send_active()
        return True

    def reset_to(self, name: str) -> bool:
        """Replace the vocabulary by a built-in set (imagenet, caltech101, cifar10)."""
        return self.set_labels(BUILTIN_LABEL_SETS[name])

    def load_file(self, path: str) -> bool:
        """Replace the vocabulary by a label file's (switched-off labels stay off);
        repeated labels are left out and named, as when typed."""
        try:
            entries = read_label_entries(path)
        except EzsrError as exc:
            self._say(str(exc))
            return False
        check = check_new_labels([label for label, _ in entries], ())
        if not self.set_labels(check.accepted, [label for label, enabled in entries if not enabled]):
            return False
        if check.duplicates:
            self._say(f"left out, {check.message}")
        self.last_file = path
        return True

    def save_file(self, path: str) -> bool:
        """Write every label, switched-off ones marked so (see ``write_label_file``)."""
        try:
            write_label_file(path, self.entries())
        except OSError as exc:
            self._say(f"cannot save {path}: {exc.strerror or exc}")
            return False
        self._say("")
        self.last_file = path
        return True

    def set_templates_text(self, text: str) -> bool:
        """Use the templates typed one per line; each needs exactly one ``{}``."""
        templates, problem = parse_template_text(text)
        if templates is None:
            self._say(problem)
            return False
        self._say("")
        self._apply_edit(lambda v: v.set_templates(templates))
        self.templates = tuple(templates.templates)
        self.vocabularyEdited.emit(self.active_labels())
        return True

    def mirror(self, other: "LabelEditor") -> None:
        """Show what ``other`` shows (labels, their switches, templates) without sending
        anything: for an editor over a vocabulary that ``other`` has just edited."""
        self._entries = [list(entry) for entry in other._entries]
        if other.templates != self.templates:
            self.templates = other.templates
            self.templates_edit.setPlainText("\n".join(self.templates))
        self._say("")
        self._rebuild_list()

    # -- widget slots --------------------------------------------------------------
    @Slot()
    def _add_clicked(self) -> None:
        # refused text stays in the field so that it can be corrected
        if self.add_text(self.input.text()):
            self.input.clear()

    @Slot()
    def _remove_clicked(self) -> None:
        selected = [item.text() for item in self.list.selectedItems()]
        if not selected:
            self._say("select the labels to remove")
            return
        self.remove(selected)

    @Slot(int)
    def _reset_chosen(self, index: int) -> None:
        if index > 0:
            self.reset_to(self.reset_combo.itemText(index))
        self.reset_combo.setCurrentIndex(0)

    @Slot(int)
    def _templates_chosen(self, index: int) -> None:
        if index > 0:
            templates = get_templates(BUILTIN_TEMPLATES[self.templates_combo.itemText(index)])
            self.templates_edit.setPlainText("\n".join(templates.templates))
            self.set_templates_text(self.templates_edit.toPlainText())
        self.templates_combo.setCurrentIndex(0)

    @Slot()
    def _templates_clicked(self) -> None:
        self.set_templates_text(self.templates_edit.toPlainText())

    @Slot()
    def _load_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load vocabulary", self.last_file or "", "Label files (*.txt);;All files (*)")
        if path:
            self.load_file(path)

    @Slot()
    def _save_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save vocabulary", "labels.txt", "Label files (*.txt)")
        if path:
            self.save_file(path)

    @Slot(QListWidgetItem)
    def _item_changed(self, item: QListWidgetItem) -> None:
        if self._syncing:
            return
        row = self.list.row(item)
        old, enabled = self._entries[row]
        checked = item.checkState() == Qt.CheckState.Checked
        if item.text() != old:
            self.rename(old, item.text())
        elif checked != enabled:
            self.set_enabled(old, checked)

    # -- internals -----------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _send(self, edit: VocabularyEdit) -> None:
        self._apply_edit(edit)
        self._rebuild_list()
        self.vocabularyEdited.emit(self.active_labels())

    def _send_active(self) -> None:
        active = self.active_labels()
        self._send(lambda v: v.set_labels(active))

    def _rebuild_list(self) -> None:
        self._syncing = True
        try:
            self.list.clear()
            for label, enabled in self._entries:
                item = QListWidgetItem(label)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if enabled else Qt.CheckState.Unchecked)
                self.list.addItem(item)
        finally:
            self._syncing = False
        n_on = len(self.active_labels())
        self.count.setText(f"{n_on} of {len(self._entries)} labels enabled")
