"""`ezsr-live`: the live application.

A source (``--camera`` or ``--replay``) feeds the real-time pipeline; results go to the
window (the GUI) or, with ``--headless``, to stdout as one JSON object per result
(logs on stderr). Several sources (``--replay A --replay B``, ``--camera X --camera Y``)
are several streams sharing one recogniser; each result says its ``stream``. ``--no-recognition`` streams without a model and prints stream
statistics once a second.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import IO, Sequence

from ezsr_live.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUNTIME,
    EXIT_USAGE,
    GivenOptionsParser,
    add_version_option,
    configure_logging,
    run_guarded,
)
from ezsr_live.cli.config import apply_config_file
from ezsr_live.cli.display_options import add_display_options, display_settings_from_args
from ezsr_live.cli.options import add_source_options, source_options_from_args, sources_from_args
from ezsr_live.cli.settings_args import add_settings, add_settings_one_of
from ezsr_live.errors import EzsrError
from ezsr_live.runtime.live import LiveOptions, LiveRun, build_live_run
from ezsr_live.sources import Described
from ezsr_live.settings import OutputSettings, WindowSettings, settings_of

log = logging.getLogger("ezsr_live")


def build_parser() -> GivenOptionsParser:
    from ezsr_live.cli.model_options import add_model_arguments

    # its namespaces say which options were given: those win over the window's remembered controls
    parser = GivenOptionsParser(
        prog="ezsr-live",
        description="Real-time zero-shot object recognition for event cameras: live top-k labels for "
        "whatever vocabulary you type, from a camera, a network stream or a recording.",
        epilog="Example: ezsr-live --replay recording.raw --labels 'cat,dog,car' --headless",
    )
    parser.add_argument("--config", metavar="FILE.toml",
                        help="read options from a TOML file (keys = long option names); the command line wins")
    add_source_options(parser, several=True)
    add_model_arguments(parser)
    w = parser.add_argument_group("windows")
    add_settings_one_of(w, settings_of(WindowSettings), ("window_ms", "window_events"))
    w.add_argument("--roi", type=_roi, default=None, metavar="X,Y,W,H",
                   help="recognise only the events inside this box of the sensor (pixels; it is cropped and "
                        "resized to the model's input as the whole sensor would be); the window can draw one")
    add_settings(parser.add_argument_group("output"), settings_of(OutputSettings))
    add_display_options(parser)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages on stderr")
    add_version_option(parser)
    return parser


def parse_command_line(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``argv`` as ``ezsr-live`` reads it: the ``--config`` file's values, then the command
    line's over them; ``args.given_options`` names the options either gave (see
    :class:`~ezsr_live.cli.common.GivenOptionsParser`). A bad config file raises
    :class:`EzsrError`; a bad option exits 2 in one line, as argparse does."""
    parser = build_parser()
    apply_config_file(parser, argv)
    return parser.parse_args(argv)


def _roi(text: str):
    from ezsr_live.events import Roi

    try:
        return Roi.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def live_options_from_args(args: argparse.Namespace) -> LiveOptions:
    """The live run the parsed ``ezsr-live`` options describe."""
    from ezsr_live.cli.model_options import model_options_from_args

    first, *more = sources_from_args(args)
    return LiveOptions(source=first, model=model_options_from_args(args),
                       window_ms=args.window_ms, window_events=args.window_events, coords=args.coords,
                       record=args.record, extra_sources=tuple(more), roi=args.roi,
                       min_confidence=args.min_confidence)


def build_run(args: argparse.Namespace, *, defer_model: bool = False) -> LiveRun:
    """Open the source, the recogniser and the recorder that ``args`` describe (with
    ``defer_model``, the recogniser later: see :meth:`LiveRun.load_model`)."""
    return build_live_run(live_options_from_args(args), defer_model=defer_model)


def _emit(line: str, stream: IO[str] | None, extra: IO[str] | None) -> None:
    stream = stream or sys.stdout
    stream.write(line + "\n")
    stream.flush()
    if extra is not None:
        extra.write(line + "\n")


def _open_output(path: str | None) -> IO[str] | None:
    if not path:
        return None
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise EzsrError(f"{path}: cannot write the results there ({exc.strerror or exc})") from None


class _PerStreamLimit:
    """``--max-results N``: N results of every stream (with several, a fast stream must
    not take the others' share); the run ends once each has given its N."""

    def __init__(self, streams: int, n: int | None) -> None:
        self.n = n
        self.counts = [0] * streams

    def admit(self, stream: int) -> bool:
        if self.n is not None and self.counts[stream] >= self.n:
            return False
        self.counts[stream] += 1
        return True

    @property
    def reached(self) -> bool:
        return self.n is not None and min(self.counts) >= self.n


def run_headless(args: argparse.Namespace, stdout: IO[str] | None = None) -> int:
    output = _open_output(args.output)
    try:
        run = build_run(args)
    except BaseException:
        if output is not None:
            output.close()
        raise
    from ezsr_live.runtime.batching import iter_stream_results

    streams = run.streams
    deadline = None if args.duration_s is None else time.monotonic() + args.duration_s
    limit = _PerStreamLimit(len(streams), args.max_results)
    interrupted = False
    try:
        for pipeline in streams:
            pipeline.start()
            log.info("running on %s (%s%s); Ctrl-C stops", pipeline.stream_name, pipeline.geometry,
                     ", every window" if pipeline.lossless else "")
        # idle=True: a quiet scene yields None now and then, so the deadline still holds
        for result in iter_stream_results(streams, timeout=0.05, idle=True):
            if deadline is not None and time.monotonic() >= deadline:
                break
            if result is None or not limit.admit(result.stream):
                continue
            _emit(json.dumps(result.to_json()), stdout, output)
            if limit.reached:
                break
    except KeyboardInterrupt:
        interrupted = True
    except Exception:
        if all(p.error is None for p in streams):  # not a thread's failure: a bug here, let it show
            raise
    finally:
        try:
            stopped = run.close(timeout=2.0)
        finally:
            if output is not None:
                output.close()
        if not stopped:
            log.warning("a thread did not stop within 2 s")
    failed = next((p for p in streams if p.error is not None), None)
    if failed is not None:
        where = f"stream {failed.stream} ({failed.stream_name}): " if len(streams) > 1 else ""
        print(f"ezsr-live: {where}{failed.error}", file=sys.stderr)
        return EXIT_RUNTIME
    for pipeline in streams:
        log.info("%s%d results; source %s; latency p50 %.1f ms, p99 %.1f ms; %d windows skipped",
                 f"stream {pipeline.stream}: " if len(streams) > 1 else "", pipeline.results.published,
                 (pipeline.source.status if isinstance(pipeline.source, Described) else "?"),
                 pipeline.latency.percentile(50), pipeline.latency.percentile(99), pipeline.windows_skipped)
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def run_stream_statistics(args: argparse.Namespace, stdout: IO[str] | None = None) -> int:
    from ezsr_live.runtime.handover import SourceThread
    from ezsr_live.runtime.recorder import Recorder

    source_options = source_options_from_args(args)
    source = source_options.open()
    from ezsr_live import jit_notice

    jit_notice.install()
    recorder = Recorder(args.record, source.geometry, source.info) if args.record else None
    thread = SourceThread(source, tap=recorder)
    stop = threading.Event()
    timer = threading.Timer(args.duration_s, stop.set) if args.duration_s is not None else None
    n_total = n_interval = 0
    t_last = None
    interrupted = False
    start = last_report = time.monotonic()
    try:
        thread.start()
        if timer:
            timer.start()
        while not stop.is_set():
            packet = thread.buffer.get(timeout=0.05)
            if packet is not None:
                n_total += len(packet)
                n_interval += len(packet)
                t_last = int(packet["t"][-1])
            elif thread.buffer.drained:
                break
            now = time.monotonic()
            if now - last_report >= 1.0:
                _emit(json.dumps({"t_us": t_last, "events": n_interval,
                                  "event_rate": round(n_interval / (now - last_report), 1),
                                  "events_dropped": thread.buffer.events_dropped,
                                  "packets_dropped": thread.buffer.packets_dropped}), stdout, None)
                n_interval, last_report = 0, now
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (main() maps it): the summary, then 130
        interrupted = True
    finally:
        if timer:
            timer.cancel()
        thread.stop()
        failure = thread.error
        if recorder:
            try:
                recorder.close()
            except EzsrError as exc:  # the recording failed while running (a full disk)
                failure = failure or exc
    if failure is not None:  # found while running (refusals at start raised above): exit 1
        print(f"ezsr-live: {failure}", file=sys.stderr)
        return EXIT_RUNTIME
    _emit(json.dumps({"source": source_options.spec, "geometry": str(source.geometry), "status": source.status,
                      "n_events": n_total, "wall_s": round(time.monotonic() - start, 3),
                      "events_dropped": thread.buffer.events_dropped,
                      "packets_dropped": thread.buffer.packets_dropped,
                      "recorded": recorder.n_written if recorder else None}), stdout, None)
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def display_available() -> bool:
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


#: the window's remembered controls, each with the options (dests) that, when given, override it
_CONTROL_OPTIONS: dict[str, tuple[str, ...]] = {
    "top_k": ("top_k",), "threshold": ("min_confidence",), "roi": ("roi",), "window": ("window_ms", "window_events"),
    "speed": ("speed",), "overlay": (), "labels_file": (),
    "accumulation": ("accumulation_ms", "accumulation_events"), "fps": ("fps",), "scheme": ("scheme",),
    "decay_ms": ("decay_ms",), "saturation": ("saturation",),
}


def remembered_controls(args: argparse.Namespace) -> frozenset[str]:
    """The window controls to bring back from the last session: those none of whose
    options was given, on the command line or in --config, whatever the value (an
    option given with its default value wins too)."""
    given = args.given_options  # GivenOptionsParser's
    return frozenset(control for control, names in _CONTROL_OPTIONS.items() if given.isdisjoint(names))


def run_gui(args: argparse.Namespace) -> int:
    if not display_available():
        print("ezsr-live: no display available (DISPLAY/WAYLAND_DISPLAY unset); "
              "use --headless for JSON results on stdout", file=sys.stderr)
        return EXIT_USAGE
    try:
        from ezsr_live.gui.app import WindowOptions, application, run_app
    except ImportError as exc:
        print(f"ezsr-live: the live window is not available ({exc}); use --headless", file=sys.stderr)
        return EXIT_USAGE
    # the remembered vocabulary comes back unless --labels (or the config file) chose one
    view = WindowOptions(smooth=args.smooth, screenshot=args.screenshot, max_results=args.max_results,
                         duration_s=args.duration_s, restore_vocabulary="labels" not in args.given_options,
                         restore_controls=remembered_controls(args),
                         display=display_settings_from_args(args))
    application()  # Qt's preflight refuses a broken display in one line, before the model loads
    # the window loads the model in the background, painting every stream's events meanwhile
    outcome = run_app(build_run(args, defer_model=True), view)
    if outcome.refusal is not None:
        raise outcome.refusal  # reported as a refusal at start is (a bad model: exit 2)
    if outcome.failure is not None:
        print(f"ezsr-live: {outcome.failure}", file=sys.stderr)
        return EXIT_RUNTIME
    return EXIT_INTERRUPTED if outcome.interrupted else EXIT_OK


def _stream_refusal(args: argparse.Namespace) -> str | None:
    """What is wrong with the streams asked for, if anything."""
    sources = sources_from_args(args)
    if len(sources) > 1:
        for option, given in (("--no-recognition", args.no_recognition), ("--record", args.record)):
            if given:
                return f"{option} takes one source, got {len(sources)}"
    if args.handover == "lossless" and any(not s.replay for s in sources):
        return "--handover lossless needs replays: a camera cannot wait for the recogniser"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_command_line(argv)
    except EzsrError as exc:
        print(f"ezsr-live: {exc}", file=sys.stderr)
        return EXIT_USAGE
    configure_logging("ezsr-live", args.verbose)
    if not (args.camera or args.replay):
        build_parser().print_usage(sys.stderr)
        print("ezsr-live: give a source: --camera CAMERA or --replay FILE", file=sys.stderr)
        return EXIT_USAGE
    refusal = _stream_refusal(args)
    if refusal:
        print(f"ezsr-live: {refusal}", file=sys.stderr)
        return EXIT_USAGE
    if threading.current_thread() is threading.main_thread():
        # SIGTERM ends the run like Ctrl-C does: threads stop, files are closed
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.no_recognition:
        return run_guarded("ezsr-live", lambda: run_stream_statistics(args))
    if args.headless:
        return run_guarded("ezsr-live", lambda: run_headless(args))
    return run_guarded("ezsr-live", lambda: run_gui(args))


def entry() -> None:
    """The console script: :func:`main`, then a prompt exit (:func:`~ezsr_live.cli.common.exit_now`)."""
    from ezsr_live.cli.common import exit_now

    exit_now(main())


if __name__ == "__main__":
    entry()
