"""The live window: event view with the top-k overlay, controls, label editor, status bar."""
from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Callable, Collection

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QMainWindow, QSplitter, QTabWidget, QVBoxLayout,
                               QWidget)

from ezsr_live.errors import EzsrError
from ezsr_live.runtime.display import DisplaySettings
from ezsr_live.settings import KNN_K
from ezsr_live.sources import Described, HoldsAtEnd, MeasuresSpan, Seekable, SpeedControl
from ezsr_live.windows import WindowSpec

from .aps_panel import add_aps_panel
from .bridge import FrameRenderer, ResultPoller
from .collector import collector
from .controls import ControlPanel
from .display_controls import DisplayPanel
from .event_view import EventView
from .overlay_control import OverlayControl
from .persistence import WindowPersistence
from .rate_plot import RatePlotDock
from .recording_control import RecordingControl
from .roi import RoiControl
from .settings import app_settings
from .smoothing import TopKSmoother
from .source_switch import SourceSwitcher
from .status_bar import build_status_bar, set_name_field, show_result_fields
from .vocabulary_progress import VocabularyProgress

if TYPE_CHECKING:
    from .label_editor import LabelEditor

log = logging.getLogger(__name__)

#: the status bar is refreshed at this rate, not per result: it is text, not a gauge
STATUS_INTERVAL_MS = 250
#: the replay position (slider, seconds box) follows at this rate: 250 ms looked stuck
POSITION_INTERVAL_MS = 50
#: the overlay's note while paused
PAUSED_NOTE = "paused — Right steps one window"
#: the overlay's note while a replay waits at the end of its recording
ENDED_NOTE = "recording ended: Home replays it"
#: the overlay's note and the model's field while the recogniser is still loading
LOADING_NOTE = "loading model…"
#: why a recording ends when File → Open replaces the source
SWITCH_STOPS_RECORDING = "another source was opened; it cannot go on into the same file"


class MainWindow(QMainWindow):
    """One window around one running :class:`~ezsr_live.runtime.pipeline.Pipeline`.

    :meth:`start` starts the pipeline, the result poller and the display renderer;
    closing the window (or :meth:`shutdown`) stops all of them and remembers the window's
    geometry, docks, vocabulary and controls (:mod:`.persistence`). With ``stream`` it is
    the page of that stream in a window of several (:mod:`.streams`), which owns the geometry.
    """

    #: emitted in the GUI thread after each result has been shown
    resultShown = Signal(object)
    #: emitted once when the pipeline ended (end of the recording) or failed
    pipelineEnded = Signal(str)

    def __init__(
        self,
        pipeline: Any,
        *,
        smooth: int = 1,
        settings: QSettings | None = None,
        restore_vocabulary: bool = False,
        restore_controls: Collection[str] = (),
        display: DisplaySettings | None = None,
        recording: Any = None,
        stream: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.pipeline = pipeline
        self.settings_store = settings if settings is not None else app_settings()
        self.smoother = TopKSmoother(smooth)
        self.n_results = 0
        self.last_result: Any = None
        self._started = False
        self._shut_down = False
        collector().acquire()  # cyclic GC on this thread only while the window lives (see .collector)
        source, recognizer = pipeline.source, pipeline.recognizer
        geometry = pipeline.geometry
        self.event_view = EventView(geometry.width, geometry.height)
        self.overlay = self.event_view.overlay
        # built once the recogniser is there (attach_recognizer): a pipeline may come
        # without one, so that the view shows events while the model loads
        self.editor: LabelEditor | None = None
        self.vocabulary_progress: VocabularyProgress | None = None
        self._restore_vocabulary = restore_vocabulary
        self._restore_labels_file = "labels_file" in restore_controls
        self._window_restored = "window" in restore_controls
        knn = recognizer.knn if recognizer is not None else None
        self.controls = ControlPanel(
            pipeline.settings.window,
            pipeline.settings.top_k,
            device=str(recognizer.device) if recognizer is not None else LOADING_NOTE,
            knn_available=knn is not None,
            knn_enabled=pipeline.settings.knn_enabled,
            knn_k=int(knn.k if knn is not None else pipeline.settings.knn_k or KNN_K),
            speed=source.speed if isinstance(source, SpeedControl) else None,
            speed_adjustable=isinstance(source, SpeedControl),
            seekable=isinstance(source, Seekable),
        )
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(6, 6, 6, 6)
        self.display_panel = DisplayPanel(display or DisplaySettings())
        # run and view controls share one place: stacked, they squeezed the label list
        self.control_tabs = QTabWidget()
        self.control_tabs.addTab(self.controls, "Run")
        self.control_tabs.addTab(self.display_panel, "View")
        side_layout.addWidget(self.control_tabs)
        side_layout.addLayout(self._create_tools(pipeline))
        self._side_layout = side_layout
        self._editor_slot = QLabel(LOADING_NOTE)
        self._editor_slot.setAlignment(Qt.AlignmentFlag.AlignCenter)
        side_layout.addWidget(self._editor_slot, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.event_view)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([900, 340])
        self.setCentralWidget(splitter)
        self.resize(1280, 720)

        self.message, self.status_fields = build_status_bar(self.statusBar())
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(lambda: self.message.set_full_text(""))
        self._set_name_field("model", LOADING_NOTE)
        self._create_actions()

        self._attach(pipeline)
        # to whichever renderer shows the pipeline now (another source gets another)
        self.display_panel.settingsChanged.connect(lambda s: self.renderer.set_settings(s))
        self.event_view.framePainted.connect(self._frame_painted)
        self.controls.pauseToggled.connect(self._set_paused)
        self.controls.stepRequested.connect(self._step)
        self.controls.windowChanged.connect(self._set_window)
        self.controls.topKChanged.connect(self._set_top_k)
        self.controls.knnChanged.connect(self._set_knn)
        self.controls.speedChanged.connect(self._set_speed)
        self.controls.seekRequested.connect(self._seek)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(STATUS_INTERVAL_MS)
        self._status_timer.timeout.connect(self.refresh_status)
        self._position_timer = QTimer(self)
        self._position_timer.setInterval(POSITION_INTERVAL_MS)
        self._position_timer.timeout.connect(self._show_position)
        # a page of several streams' window (stream: its index) keeps its controls under that stream's keys
        self.persistence = WindowPersistence(self, self.settings_store, stream)
        self.persistence.restore_window(False)
        self.persistence.restore(set(restore_controls) - {"labels_file"})
        if recording is not None:  # --record: the Record button shows it and can stop it
            self.recording.adopt(recording)
        if self.aps_panel.track is None:
            self.aps_panel.hide()  # remembered open, but this recording has no frames
        if recognizer is not None:
            self._show_recognizer(recognizer)
        else:
            self.overlay.set_note(LOADING_NOTE)

    # -- the recogniser ------------------------------------------------------------
    @property
    def model_attached(self) -> bool:
        return self.editor is not None

    def attach_recognizer(self, recognizer: Any) -> None:
        """Show ``recognizer`` once it has loaded: attach it to the pipeline (unless it
        is there already), then build the label editor and enable the model's controls."""
        if self.editor is not None:
            return
        if not self.pipeline.has_recognizer:
            self.pipeline.attach_recognizer(recognizer)
        self._show_recognizer(recognizer)

    def _show_recognizer(self, recognizer: Any) -> None:
        # the editor's module imports the model stack (torch): only once the model is there
        from .label_editor import LabelEditor

        vocabulary = recognizer.vocabulary
        self.editor = LabelEditor(vocabulary.labels, vocabulary.templates, self._apply_vocabulary_edit)
        self._side_layout.replaceWidget(self._editor_slot, self.editor)
        self._editor_slot.deleteLater()
        self.editor.vocabularyEdited.connect(self._vocabulary_edited)
        self.vocabulary_progress = VocabularyProgress(vocabulary)
        self.statusBar().addPermanentWidget(self.vocabulary_progress)
        self._set_name_field("model", str(recognizer.model_id or "?"))
        knn = recognizer.knn
        self.controls.set_model(str(recognizer.device), knn_available=knn is not None,
                                knn_k=int(knn.k) if knn is not None else None)
        self.load_action.setEnabled(True)
        self.save_action.setEnabled(True)
        if not self._window_restored:  # a deferred model brings its own window
            self.controls.set_window_spec(self.pipeline.settings.window)
        if self._restore_vocabulary:
            self.persistence.restore_vocabulary()
        if self._restore_labels_file:
            self.persistence.restore({"labels_file"})
        if self.overlay.shown_note() == LOADING_NOTE:
            self.overlay.set_note("")

    def _create_tools(self, pipeline: Any) -> QHBoxLayout:
        """ROI, confidence threshold and Record, in one row under the controls."""
        self.roi_control = RoiControl(self.event_view.viewbox, pipeline.geometry, self._set_roi, self,
                                      viewport=self.event_view.graphics.viewport())
        self.overlay_control = OverlayControl(self.overlay, pipeline.settings.min_confidence,
                                              lambda p: self.pipeline.update(min_confidence=p), self)
        self.recording = RecordingControl(lambda: self.pipeline, lambda text: self.show_message(text), self)
        self.switcher = SourceSwitcher(self)
        self.rate_dock = RatePlotDock(lambda: self.pipeline, self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.rate_dock)
        self.rate_dock.hide()  # optional: View → Event rate
        self.aps_panel = add_aps_panel(self)  # shown when a recording has APS frames
        if pipeline.settings.roi is not None:
            self.roi_control.set_roi(pipeline.settings.roi)
        row = QHBoxLayout()
        row.addWidget(self.roi_control.button)
        row.addWidget(QLabel("none below"))
        row.addWidget(self.overlay_control.threshold_spin)
        row.addWidget(self.recording.button)
        return row

    def _attach(self, pipeline: Any) -> None:
        """Show ``pipeline`` (built, maybe running): its source's name, size, controls,
        and the hand-overs from its threads."""
        self.pipeline = pipeline
        source, geometry = pipeline.source, pipeline.geometry
        if isinstance(source, HoldsAtEnd) and not pipeline.running:
            # in the window the end of a recording is a place to seek from, not the end
            # of the session (seek and speed stay live; Home replays from the start)
            source.hold_at_end = True
        info = source.info if isinstance(source, Described) else None
        self.source_name = os.path.basename(info.name if info else "") or type(source).__name__
        self.setWindowTitle(f"ezsr-live — {self.source_name}")
        self._set_name_field("source", f"{self.source_name} {geometry.width}×{geometry.height}")
        self.poller = ResultPoller(pipeline, parent=self)
        # the view's accumulation and frame rate are its own, apart from the recognition window
        self.renderer = FrameRenderer(pipeline.ring, geometry, self.display_panel.settings, parent=self)
        self.renderer.frameReady.connect(self.event_view.show_frame)
        self.poller.resultReady.connect(self._show_result)
        self.poller.pipelineEnded.connect(self._pipeline_ended)
        self.poller.sourceRestarted.connect(self._source_restarted)
        self.replay_action.setEnabled(isinstance(source, Seekable))
        self.aps_panel.attach(pipeline)

    def detach_pipeline(self) -> str | None:
        """Stop showing (and stop) the current pipeline, before another replaces it. A
        recording of it ends too (the next source may have another sensor size), once the
        source has stopped: the file holds every event it delivered. Returns what the
        status bar was told about that recording (None: there was none)."""
        self.poller.stop()
        self.renderer.stop()
        self.pipeline.stop()
        self.poller.deleteLater()
        self.renderer.deleteLater()
        if self.recording.stop(reason=SWITCH_STOPS_RECORDING) is None:
            return None
        return self.recording.last_message

    def replace_pipeline(self, pipeline: Any) -> None:
        """Show and start ``pipeline`` (another source) in place of the detached one."""
        source = pipeline.source
        self.controls.set_source_capabilities(
            speed=source.speed if isinstance(source, SpeedControl) else None,
            speed_adjustable=isinstance(source, SpeedControl), seekable=isinstance(source, Seekable))
        self.controls.pause_button.setChecked(False)
        self.event_view.set_sensor_size(pipeline.geometry.width, pipeline.geometry.height)
        self.roi_control.set_geometry(pipeline.geometry)
        self.smoother.clear()
        self.overlay.set_note("")
        self._attach(pipeline)
        self._started = False
        self.start()

    # -- life cycle ----------------------------------------------------------------
    @property
    def shown_pipelines(self) -> list[Any]:
        """The pipeline now shown (File → Open may have replaced the run's own)."""
        return [self.pipeline]

    def start(self) -> None:
        """Start the pipeline and the GUI's hand-overs from it."""
        if self._started:
            return
        self._started = True
        if not self.pipeline.running and not self.pipeline.finished:
            self.pipeline.start()
        if isinstance(self.pipeline.source, MeasuresSpan):
            self.pipeline.source.measure_span()  # the seek slider spans the whole recording from the start
        self.renderer.start()
        self.poller.start()
        self._status_timer.start()
        self._position_timer.start()

    def shutdown(self, timeout_s: float = 2.0) -> bool:
        """Stop every thread (renderer, pipeline) and save the settings; idempotent.
        True if all threads ended within ``timeout_s``."""
        if self._shut_down:
            return True
        self._shut_down = True
        self.poller.stop()
        self.rate_dock.stop()
        self.aps_panel.stop()
        self._status_timer.stop()
        self._position_timer.stop()
        renderer_done = self.renderer.stop(timeout_s) if self.renderer.isRunning() else True
        pipeline_done = self.pipeline.stop(timeout=timeout_s)
        self.recording.stop()  # after the source: the file holds every event it delivered
        if not (renderer_done and pipeline_done):
            log.warning("a thread did not stop within %.1f s", timeout_s)
        self.persistence.save()
        collector().release()
        return renderer_done and pipeline_done

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt naming)
        self.shutdown()
        super().closeEvent(event)

    # -- actions -------------------------------------------------------------------
    def _action(self, text: str, shortcut: QKeySequence | str | None, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        # window-wide, but a focused text field still gets its Space and arrow keys
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _create_actions(self) -> None:
        self.screenshot_action = self._action("Save &screenshot…", "Ctrl+Shift+S", self._screenshot_clicked)
        self.load_action = self._action("&Load vocabulary…", QKeySequence.StandardKey.Open,
                                        lambda: self.editor and self.editor._load_clicked())
        self.save_action = self._action("Save &vocabulary…", QKeySequence.StandardKey.Save,
                                        lambda: self.editor and self.editor._save_clicked())
        self.load_action.setEnabled(False)  # until the recogniser (and the editor) is there
        self.save_action.setEnabled(False)
        self.quit_action = self._action("&Quit", "Ctrl+Q", self.close)
        self.pause_action = self._action("&Pause / resume", "Space", self.controls.toggle_pause)
        self.step_action = self._action("&Step one window", "Right", self.controls.request_step)
        self.replay_action = self._action("&Replay from the start", "Home", lambda: self._seek(0))
        # (a text field still gets its "0": fields take printable keys before shortcuts)
        self.fit_action = self._action("&Fit the frame (undo zoom)", "0", self.event_view.fit)
        file_menu = self.menuBar().addMenu("&File")
        for action in (self.switcher.recording_action, self.switcher.camera_action, self.recording.action,
                       self.screenshot_action, self.load_action, self.save_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        run_menu = self.menuBar().addMenu("&Run")
        run_menu.addAction(self.pause_action)
        run_menu.addAction(self.step_action)
        run_menu.addAction(self.replay_action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.fit_action)
        view_menu.addAction(self.overlay_control.show_action)
        view_menu.addAction(self.roi_control.action)
        view_menu.addAction(self.rate_dock.toggleViewAction())
        view_menu.addAction(self.aps_panel.toggleViewAction())

    def show_message(self, text: str, timeout_ms: int = 0) -> None:
        """Show ``text`` in the status bar (for ``timeout_ms``, or until the next one)."""
        self.message.set_full_text(text)
        if timeout_ms > 0:
            self._message_timer.start(timeout_ms)
        else:
            self._message_timer.stop()

    def save_screenshot(self, path: str | os.PathLike) -> bool:
        """Save the whole window as a PNG; False if it could not be written."""
        ok = self.grab().save(os.fspath(path), "PNG")
        if ok:
            self.show_message(f"screenshot saved to {os.fspath(path)}", 3000)
        else:
            log.error("could not save the screenshot to %s", os.fspath(path))
        return ok

    @Slot()
    def _screenshot_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save screenshot", "ezsr-live.png", "PNG images (*.png)")
        if path:
            self.save_screenshot(path)

    # -- from the engine -----------------------------------------------------------
    @property
    def fewest_results(self) -> int:
        """Results shown (one stream: its own; the multi-stream window has the least of its tabs')."""
        return self.n_results

    @Slot(object)
    def _show_result(self, result: Any) -> None:
        self.n_results += 1
        self.last_result = result
        self.overlay.set_entries(self.smoother.push(result.topk))
        if self.n_results == 1:
            self.refresh_status()
        self.resultShown.emit(result)

    @Slot()
    def _frame_painted(self) -> None:
        if self.event_view.frames_painted == 1:  # benchmarks/bench_startup.py waits for this line
            log.info("first frame painted")
        shown = self.event_view.shown_frame
        self.renderer.frame_painted(shown.seq if shown is not None else None)

    @Slot(str)
    def _pipeline_ended(self, message: str) -> None:
        self.show_message(message)
        # the overlay, where the eyes are, has room for one whole line
        source = self.pipeline.source
        waiting = isinstance(source, HoldsAtEnd) and source.at_end
        self.overlay.set_note(ENDED_NOTE if waiting else message)
        self.pipelineEnded.emit(message)

    @Slot()
    def _source_restarted(self) -> None:
        self.show_message("")
        self.overlay.set_note(PAUSED_NOTE if self.controls.paused else "")

    @Slot()
    def refresh_status(self) -> None:
        """Update the status bar from the newest result and the view's counters."""
        fields = self.status_fields
        fields["display"].setText(f"view {self.event_view.painted_fps():.0f} fps")
        self._show_position()
        if self.last_result is not None:
            show_result_fields(fields, self.last_result)

    def _set_name_field(self, name: str, text: str) -> None:
        set_name_field(self.status_fields[name], text)

    def _show_position(self) -> None:
        source = self.pipeline.source
        if isinstance(source, Seekable):
            self.controls.show_position(int(source.position_us), int(source.span_us))

    # -- from the controls ---------------------------------------------------------
    @Slot(bool)
    def _set_paused(self, paused: bool) -> None:
        self.pipeline.update(paused=paused)
        # a replay holds its own clock, and the view keeps showing what it released
        # (each step's window); a camera cannot wait, so there the view freezes instead
        self.renderer.set_paused(paused and not self.pipeline.pauses_source)
        self.overlay.set_note(PAUSED_NOTE if paused else "")

    @Slot()
    def _step(self) -> None:
        self.pipeline.step()
        if not self.pipeline.pauses_source:
            self.renderer.step()

    @Slot(object)
    def _set_window(self, spec: WindowSpec) -> None:
        try:
            self.pipeline.update(window=spec)
        except ValueError as exc:
            self.show_message(str(exc), 5000)

    @Slot(int)
    def _set_top_k(self, k: int) -> None:
        self.pipeline.update(top_k=k)
        self.smoother.clear()

    @Slot(bool, int)
    def _set_knn(self, enabled: bool, k: int) -> None:
        self.pipeline.update(knn_enabled=enabled, knn_k=k)
        self.smoother.clear()

    @Slot(object)
    def _set_speed(self, speed: float | None) -> None:
        source = self.pipeline.source
        if isinstance(source, SpeedControl):
            source.set_speed(speed)

    @Slot(int)
    def _seek(self, t_offset_us: int) -> None:
        source = self.pipeline.source
        if not isinstance(source, Seekable):
            return
        source.seek(t_offset_us)
        # labels of the old position must not linger in the smoothing
        self.smoother.clear()
        self.renderer.refresh()
        self._show_position()  # the replay says where it goes at once: no lag, no jump back

    def _set_roi(self, roi: Any) -> None:
        self.pipeline.update(roi=roi)
        self.smoother.clear()  # results of the other region must not linger

    # -- vocabulary ----------------------------------------------------------------
    def _apply_vocabulary_edit(self, edit: Callable[[Any], None]) -> None:
        def guarded(vocabulary: Any) -> None:
            # the editor checks edits first; should one still be refused, the worker
            # must go on with the old vocabulary rather than die
            try:
                edit(vocabulary)
            except EzsrError as exc:
                log.warning("vocabulary edit refused: %s", exc)

        self.pipeline.edit_vocabulary(guarded)

    @Slot(list)
    def _vocabulary_edited(self, labels: list) -> None:
        # results computed with the old vocabulary must not linger in the smoothing
        self.smoother.clear()

    def show_vocabulary_of(self, editor: LabelEditor) -> None:
        """Show the vocabulary as ``editor`` (another stream's, over the same shared
        recogniser) has just edited it; nothing is sent to the engine again."""
        if self.editor is not None and editor is not self.editor:
            self.editor.mirror(editor)
            self.smoother.clear()
