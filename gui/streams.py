"""Several streams in one window: a tab per stream, each the whole single-stream view.

Every tab holds a :class:`~ezsr_live.gui.main_window.MainWindow` around one stream's
pipeline (its events, its top-k, its controls and status); the tab bar is the stream
selector. Only the shown tab's shortcuts are live (Qt ignores those of hidden widgets),
and closing the window stops every stream. The streams share one recogniser, so a
vocabulary or k-NN change made in one tab applies to all of them; every tab's label
list follows a vocabulary edit made in another. As the single-stream window does, the
tabs paint their streams' events while the recogniser loads (each says "loading
model…") and show results once :meth:`StreamWindow.attach_recognizer` hands it over.
Between runs every tab remembers its own controls (by stream index), the first tab the
shared vocabulary, and the window its geometry (:mod:`.persistence`).
"""
from __future__ import annotations

import os
from typing import Any, Collection, Sequence

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QTabWidget, QWidget

from ezsr_live.runtime.display import DisplaySettings

from .main_window import MainWindow
from .settings import KEY_STREAMS_GEOMETRY, app_settings


def stream_title(pipeline: Any) -> str:
    """A tab's name: the stream's index and its source's file or camera name."""
    name = os.path.basename(getattr(pipeline, "stream_name", "") or "") or "stream"
    return f"{getattr(pipeline, 'stream', 0)}: {name}"


class StreamWindow(QMainWindow):
    """One window over several pipelines, a :class:`MainWindow` per tab; it offers what
    the run's limits (``--max-results``, ``--screenshot``) read of a :class:`MainWindow`."""

    #: any stream's result, after its tab has shown it
    resultShown = Signal(object)
    #: once every stream has ended (or one failed)
    pipelineEnded = Signal(str)
    #: the index of the stream now shown
    streamChanged = Signal(int)

    def __init__(self, pipelines: Sequence[Any], *, smooth: int = 1, restore_vocabulary: bool = False,
                 restore_controls: Collection[str] = frozenset(), display: DisplaySettings | None = None,
                 settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings_store = settings if settings is not None else app_settings()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.views: list[MainWindow] = []
        self._ended: set[int] = set()
        self._saved = False
        for i, pipeline in enumerate(pipelines):
            # each tab its own remembered controls; the vocabulary is shared: the first tab's
            view = MainWindow(pipeline, smooth=smooth, restore_vocabulary=restore_vocabulary and i == 0,
                              restore_controls=restore_controls, display=display, settings=self.settings_store,
                              stream=i)
            view.setWindowFlags(Qt.WindowType.Widget)  # a page of the tabs, not a window of its own
            view.resultShown.connect(self.resultShown)
            view.pipelineEnded.connect(lambda message, i=i: self._stream_ended(i, message))
            self.tabs.addTab(view, stream_title(pipeline))
            self.views.append(view)
        self._editors_linked = False
        if self.model_attached:  # else once the recogniser has loaded (attach_recognizer)
            self._link_editors()
        self.tabs.currentChanged.connect(self._current_changed)
        self.setCentralWidget(self.tabs)
        self.source_name = ", ".join(v.source_name for v in self.views)
        self.setWindowTitle(f"ezsr-live — {len(self.views)} streams")
        self.resize(1280, 760)
        geometry = self.settings_store.value(KEY_STREAMS_GEOMETRY)
        if geometry is not None:
            self.restoreGeometry(geometry)

    # what the run's limits read
    @property
    def current(self) -> MainWindow:
        return self.views[self.tabs.currentIndex()]

    @property
    def shown_pipelines(self) -> list[Any]:
        """Each tab's pipeline now (File → Open may have replaced one)."""
        return [v.pipeline for v in self.views]

    @property
    def n_results(self) -> int:
        return sum(v.n_results for v in self.views)

    @property
    def fewest_results(self) -> int:
        """The results of the stream that has shown fewest (``--max-results`` counts each stream's)."""
        return min(v.n_results for v in self.views)

    @property
    def event_view(self) -> Any:
        return self.current.event_view

    @property
    def model_attached(self) -> bool:
        return all(view.model_attached for view in self.views)

    def attach_recognizer(self, recognizer: Any) -> None:
        """Show the shared recogniser in every tab once it has loaded (the tabs paint
        their streams' events meanwhile, saying "loading model…")."""
        for view in self.views:
            view.attach_recognizer(recognizer)
        self._link_editors()

    def select(self, index: int) -> None:
        """Show stream ``index``."""
        self.tabs.setCurrentIndex(index)

    def refresh_status(self) -> None:
        for view in self.views:
            view.refresh_status()

    def save_screenshot(self, path: str | os.PathLike) -> bool:
        return bool(self.grab().save(os.fspath(path), "PNG"))

    def start(self) -> None:
        for view in self.views:
            view.start()

    def shutdown(self, timeout_s: float = 2.0) -> bool:
        """Stop every stream; each tab saves its controls, and the window its geometry, once."""
        done = True
        for view in self.views:
            done = view.shutdown(timeout_s) and done
        if not self._saved:
            self._saved = True
            self.settings_store.setValue(KEY_STREAMS_GEOMETRY, self.saveGeometry())
            self.settings_store.sync()
        return done

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt naming)
        self.shutdown()
        super().closeEvent(event)

    def _link_editors(self) -> None:
        """Every tab's label list shows the one shared vocabulary: the first tab's now
        (it restored the last session's), then whichever tab edits it."""
        if self._editors_linked:
            return
        self._editors_linked = True
        first = self.views[0]
        for view in self.views:
            view.show_vocabulary_of(first.editor)
            view.editor.vocabularyEdited.connect(lambda _labels, edited=view: self._vocabulary_edited(edited))

    def _vocabulary_edited(self, edited: MainWindow) -> None:
        for view in self.views:
            view.show_vocabulary_of(edited.editor)

    @Slot(int)
    def _current_changed(self, index: int) -> None:
        if index >= 0:
            self.streamChanged.emit(index)

    def _stream_ended(self, index: int, message: str) -> None:
        self._ended.add(index)
        self.tabs.setTabText(index, f"{stream_title(self.views[index].pipeline)} (ended)")
        if message.startswith("stopped:") or len(self._ended) == len(self.views):
            self.pipelineEnded.emit(message)
