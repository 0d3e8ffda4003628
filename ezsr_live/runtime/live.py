"""Building a live run: source + recogniser + recorder + settings from one options object.

Both front ends use it: the CLI turns its parsed options into :class:`LiveOptions`,
calls :func:`build_live_run` and hands the :class:`LiveRun` to the headless loop or to
the window (``ezsr_live.gui.app.run_app``), which never parses anything itself.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

from ezsr_live.errors import EzsrError
from ezsr_live.events import Geometry, Roi
from ezsr_live.settings import HANDOVERS, OutputSettings, RecognitionSettings, ReplaySettings, WindowSettings
from ezsr_live.windows import DEFAULT_WINDOW_MS, WindowSpec

if TYPE_CHECKING:
    from ezsr_live.drivers.sources import EventSource
    from ezsr_live.runtime.pipeline import Pipeline
    from ezsr_live.runtime.recorder import Recorder

log = logging.getLogger(__name__)



def lossless_for(handover: str, *, replay: bool, speed: float | None) -> bool:
    """Whether a stream recognises every window (lossless) rather than the newest (latest
    wins): ``"auto"`` means lossless for a replay at full speed (None); a camera cannot
    wait for the recogniser, so it is never lossless."""
    if handover not in HANDOVERS:
        raise ValueError(f"handover must be one of {', '.join(HANDOVERS)}, got {handover!r}")
    return replay and (handover == "lossless" or (handover == "auto" and speed is None))


@dataclass(frozen=True)
class SourceOptions:
    """What ``--camera``/``--replay`` and their options describe (``open_source`` arguments)."""

    spec: str
    geometry: Geometry | None = None
    reconnect: bool = ReplaySettings.reconnect
    replay: bool = False  # the pacing options below apply
    speed: float | None = ReplaySettings.speed
    loop: bool = ReplaySettings.loop
    start_us: int = ReplaySettings.start_us
    duration_us: int | None = ReplaySettings.duration_us
    #: recognise every window, holding the replay back (see :func:`lossless_for`)
    lossless: bool = False

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
    window_ms: float | None = WindowSettings.window_ms
    window_events: int | None = WindowSettings.window_events
    coords: Literal["resize", "direct"] = WindowSettings.coords
    record: str | None = OutputSettings.record
    roi: Roi | None = None
    min_confidence: float = OutputSettings.min_confidence
    #: further streams, sharing the recogniser with ``source`` (indices 1, 2, ...)
    extra_sources: tuple[SourceOptions, ...] = ()

    @property
    def sources(self) -> tuple[SourceOptions, ...]:
        return (self.source, *self.extra_sources)

    @property
    def top_k(self) -> int:
        return int(self.model.get("top_k", RecognitionSettings.top_k))


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
    """A built, not yet started, live run; :meth:`close` once it has stopped.

    ``pipeline`` is the first stream's; with several sources, :attr:`streams` lists every
    stream's pipeline (they share one recogniser)."""

    pipeline: Pipeline
    recorder: Recorder | None = None
    more: list[Pipeline] = field(default_factory=list)
    #: built with ``defer_model``: loads the recogniser and attaches it to every stream
    #: (:meth:`load_model`); None once attached, or when it was loaded up front
    model_loader: Callable[[], Any] | None = None

    def load_model(self) -> Any:
        """Load the recogniser of a run built with ``defer_model`` and attach it to every
        pipeline (from any thread: the window calls it from a background one); returns it.
        A bad model raises the same error that :func:`build_live_run` raises up front."""
        if self.model_loader is None:
            return self.pipeline.recognizer
        recognizer, window = self.model_loader()
        for pipeline in self.streams:
            pipeline.attach_recognizer(recognizer, window=window)
        self.model_loader = None
        return recognizer

    @property
    def streams(self) -> list[Pipeline]:
        return [self.pipeline, *self.more]

    def close(self, timeout: float = 2.0) -> bool:
        """Stop the pipelines (if running) and finish the recording; True if every
        pipeline's threads ended within ``timeout`` seconds."""
        stopped = True
        try:
            for pipeline in self.streams:
                stopped = pipeline.stop(timeout=timeout) and stopped
        finally:
            if self.recorder is not None:
                try:
                    self.recorder.close()
                except EzsrError as exc:
                    # the recording failed while running (a full disk): a thread's failure,
                    # reported as the pipeline's (exit 1), not a refusal at start
                    if self.pipeline.error is None:
                        self.pipeline.error = exc
        return stopped


def build_live_run(options: LiveOptions, *, defer_model: bool = False) -> LiveRun:
    """Open the source, the recogniser and the recorder that ``options`` describe; on a
    failure whatever was opened is closed again.

    With ``defer_model`` the pipelines are built without a recogniser and neither torch
    nor the model is imported here: :meth:`LiveRun.load_model` does that later (the
    window shows events meanwhile).

    The source is opened first and the model stack (torch, open_clip) imported only
    after: a wrong path or an absent camera is reported in a second, not after the
    seconds those imports take."""
    if options.record and options.extra_sources:
        raise ValueError("--record takes one source")
    if options.record:
        from ezsr_live.drivers import check_writable

        # a wrong output is refused before the source is read or the model loads
        check_writable(options.record, recording=True)
    sources: list[EventSource] = []
    try:
        for source_options in options.sources:
            sources.append(source_options.open())
    except BaseException:
        for opened in sources:
            opened.close()
        raise
    source = sources[0]
    recorder = None
    try:
        if options.roi is not None:
            try:
                options.roi.check_inside(source.geometry)
            except ValueError as exc:
                raise EzsrError(f"--roi: {exc} of {options.source.spec}") from None
        from ezsr_live import jit_notice

        jit_notice.install()  # a cold Numba cache compiles for many seconds: say so
        from ezsr_live.runtime.pipeline import Pipeline
        from ezsr_live.runtime.recorder import Recorder
        from ezsr_live.runtime.settings import RuntimeSettings

        load = _model_loader(options, n_streams=len(sources))
        loader: Callable[[], tuple[Any, WindowSpec | None]] | None = load if defer_model else None
        recognizer: Any = None
        window = window_spec(options.window_ms, options.window_events)
        if not defer_model:
            recognizer, model_window = load()
            window = model_window or window
        settings = RuntimeSettings(window=window, top_k=options.top_k, coords=options.coords,
                                   roi=options.roi, min_confidence=options.min_confidence)
        recorder = Recorder(options.record, source.geometry, source.info) if options.record else None
        pipelines = [Pipeline(opened, recognizer, dataclasses.replace(settings), tap=recorder if i == 0 else None,
                              lossless=source_options.lossless, stream=i)
                     for i, (opened, source_options) in enumerate(zip(sources, options.sources))]
    except BaseException:
        for opened in sources:
            opened.close()
        if recorder is not None:
            recorder.close()
        raise
    return LiveRun(pipelines[0], recorder, pipelines[1:], model_loader=loader)


def _model_loader(options: LiveOptions, *, n_streams: int) -> Callable[[], tuple[Any, WindowSpec | None]]:
    """A function that imports the model stack and loads the recogniser ``options``
    describe: (recogniser, the model's own window when the user chose none)."""

    def load() -> tuple[Any, WindowSpec | None]:
        from ezsr_live.model.factory import resolve_config
        from ezsr_live.model.recognizer import Recognizer

        rcfg = resolve_config(**options.model)
        own_window = options.window_ms is None and options.window_events is None
        if own_window:
            window = window_spec(None, None, rcfg.window)
            log.info("window: %s (%s)", window, "the model's own" if rcfg.window else "the default")
        recognizer: Any = Recognizer.from_config(rcfg)
        if n_streams > 1:
            from ezsr_live.runtime.batching import SharedRecognizer

            recognizer = SharedRecognizer(recognizer)
        return recognizer, (window if own_window and rcfg.window else None)

    return load
