"""Building a live run: source + recogniser + recorder + settings from one options object.

Both front ends use it: the CLI turns its parsed options into :class:`LiveOptions`,
calls :func:`build_live_run` and hands the :class:`LiveRun` to the headless loop or to
the window (``ezsr_live.gui.app.run_app``), which never parses anything itself.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping

from ezsr_live.errors import EzsrError
from ezsr_live.events import Geometry, Roi
from ezsr_live.windows import DEFAULT_WINDOW_MS, WindowSpec

if TYPE_CHECKING:
    from ezsr_live.drivers.sources import EventSource
    from ezsr_live.runtime.pipeline import Pipeline
    from ezsr_live.runtime.recorder import Recorder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceOptions:
    """What ``--camera``/``--replay`` and their options describe (``open_source`` arguments)."""

    spec: str
    geometry: Geometry | None = None
    reconnect: bool = False
    replay: bool = False  # the pacing options below apply
    speed: float | None = 1.0
    loop: bool = False
    start_us: int = 0
    duration_us: int | None = None

    def open(self) -> EventSource:
        from ezsr_live.drivers.sources import open_source

        options: dict[str, Any] = {"geometry": self.geometry, "reconnect": self.reconnect}
        if self.replay:
            options.update(speed=self.speed, loop=self.loop, start_us=self.start_us, duration_us=self.duration_us)
        return open_source(self.spec, **options)


@dataclass(frozen=True)
class LiveOptions:
    """Everything a live run is built from."""

    source: SourceOptions
    #: keyword arguments of :func:`ezsr_live.model.factory.resolve_config`
    model: Mapping[str, Any] = field(default_factory=dict)
    window_ms: float | None = None
    window_events: int | None = None
    coords: Literal["resize", "direct"] = "resize"
    record: str | None = None
    roi: Roi | None = None
    min_confidence: float = 0.0

    @property
    def top_k(self) -> int:
        return int(self.model.get("top_k", 5))


def window_spec(window_ms: float | None, window_events: int | None,
                model_window: tuple[str, float] | None = None) -> WindowSpec:
    """The user's window, else the one the model was trained on, else DEFAULT_WINDOW_MS."""
    if window_events is not None:
        return WindowSpec.by_events(window_events)
    if window_ms is not None:
        return WindowSpec.by_time_ms(window_ms)
    if model_window is not None:
        kind, value = model_window
        return WindowSpec.by_events(int(value)) if kind == "events" else WindowSpec.by_time_ms(value)
    return WindowSpec.by_time_ms(DEFAULT_WINDOW_MS)


@dataclass
class LiveRun:
    """A built, not yet started, live run; :meth:`close` once it has stopped."""

    pipeline: Pipeline
    recorder: Recorder | None = None

    def close(self, timeout: float = 2.0) -> bool:
        """Stop the pipeline (if running) and finish the recording; True if the
        pipeline's threads ended within ``timeout`` seconds."""
        try:
            stopped = self.pipeline.stop(timeout=timeout)
        finally:
            if self.recorder is not None:
                self.recorder.close()
        return stopped


def build_live_run(options: LiveOptions) -> LiveRun:
    """Open the source, the recogniser and the recorder that ``options`` describe; on a
    failure whatever was opened is closed again.

    The source is opened first and the model stack (torch, open_clip) imported only
    after: a wrong path or an absent camera is reported in a second, not after the
    seconds those imports take."""
    source = options.source.open()
    recorder = None
    try:
        if options.roi is not None:
            try:
                options.roi.check_inside(source.geometry)
            except ValueError as exc:
                raise EzsrError(f"--roi: {exc} of {options.source.spec}") from None
        from ezsr_live.model.factory import resolve_config
        from ezsr_live.model.recognizer import Recognizer
        from ezsr_live.runtime.pipeline import Pipeline
        from ezsr_live.runtime.recorder import Recorder
        from ezsr_live.runtime.settings import RuntimeSettings

        rcfg = resolve_config(**options.model)
        window = window_spec(options.window_ms, options.window_events, rcfg.window)
        if options.window_ms is None and options.window_events is None:
            log.info("window: %s (%s)", window, "the model's own" if rcfg.window else "the default")
        settings = RuntimeSettings(window=window, top_k=options.top_k, coords=options.coords, roi=options.roi,
                                   min_confidence=options.min_confidence)
        recognizer = Recognizer.from_config(rcfg)
        recorder = Recorder(options.record, source.geometry, source.info) if options.record else None
        pipeline = Pipeline(source, recognizer, settings, tap=recorder)
    except BaseException:
        source.close()
        if recorder is not None:
            recorder.close()
        raise
    return LiveRun(pipeline, recorder)
