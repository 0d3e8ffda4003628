"""The vocabulary editor in the live window: keys, label files (pytest-qt, offscreen)."""
from __future__ import annotations

from PySide6.QtCore import Qt

from .conftest import LABELS

WAIT_MS = 20_000


def _labels_of(result) -> set[str]:
    return {label for label, _ in result.topk}


def _row_of(editor, label: str) -> int:
    return [name for name, _ in editor.entries()].index(label)


def test_delete_removes_the_selected_labels_as_the_tooltip_says(qtbot, make_window):
    window = make_window("--top-k", "10")
    results = []
    window.resultShown.connect(results.append)
    editor = window.editor
    assert "(Delete)" in editor.remove_button.toolTip()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)  # shortcuts act in the active window
    editor.list.setFocus()
    editor.list.setCurrentRow(_row_of(editor, "square"))
    qtbot.keyClick(editor.list, Qt.Key.Key_Delete)
    assert "square" not in [name for name, _ in editor.entries()]
    qtbot.waitUntil(lambda: bool(results) and _labels_of(results[-1]) == set(LABELS.split(",")) - {"square"},
                    timeout=WAIT_MS)
    # Delete while renaming edits the name, it removes nothing
    before = editor.entries()
    editor.list.editItem(editor.list.item(0))
    qtbot.waitUntil(lambda: editor.list.state() == editor.list.State.EditingState, timeout=WAIT_MS)
    qtbot.keyClick(editor.list.focusWidget(), Qt.Key.Key_Delete)
    assert editor.entries() == before


def test_a_label_file_repeating_a_label_in_other_case_gives_one_label(qtbot, make_window, tmp_path):
    window = make_window()
    editor = window.editor
    path = tmp_path / "shapes.txt"
    path.write_text("star\nStar\ncircle\n")
    assert editor.load_file(str(path))
    assert editor.entries() == [("star", True), ("circle", True)]
    assert "'Star'" in editor.message_text()  # said, as when typed
    qtbot.keyClicks(editor.input, "STAR")
    qtbot.keyClick(editor.input, Qt.Key.Key_Return)
    assert editor.entries() == [("star", True), ("circle", True)]  # typing follows the same rule


def test_save_keeps_switched_off_labels_and_load_brings_them_back_switched_off(qtbot, make_window, tmp_path):
    window = make_window("--top-k", "10")
    editor = window.editor
    editor.list.item(_row_of(editor, "square")).setCheckState(Qt.CheckState.Unchecked)
    saved = editor.entries()
    path = tmp_path / "vocabulary.txt"
    assert editor.save_file(str(path))
    assert "# disabled: square" in path.read_text()

    assert editor.set_labels(["cat", "dog"])
    assert editor.load_file(str(path))
    assert editor.entries() == saved and ("square", False) in saved
    results = []
    window.resultShown.connect(results.append)
    qtbot.waitUntil(lambda: bool(results) and _labels_of(results[-1]) == set(LABELS.split(",")) - {"square"},
                    timeout=WAIT_MS)
