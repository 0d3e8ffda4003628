"""`ezsr record SOURCE OUT`: write what a camera, stream or replay delivers."""
from __future__ import annotations

import argparse
import logging
import threading

from ezsr_live.cli.options import add_geometry_option
from ezsr_live.drivers import check_writable
from ezsr_live.drivers.sources import open_source
from ezsr_live.runtime.handover import SourceThread
from ezsr_live.runtime.recorder import Recorder
from ezsr_live.cli import options as types
from ezsr_live.cli.settings_args import add_setting
from ezsr_live.settings import all_settings

NAME = "record"
HELP = "Record a live source (camera, tcp://, unix://, or a replayed file) to .aedat4, .raw or .evt2.raw (crash-safe formats)."
#: a cold Numba cache compiles the replay, decoder and encoder: 2.5-4.6 s replaying EVT 3.0
#: into .aedat4, 7.6-7.9 s replaying .aedat4 into RAW, measured on 2 cores
COMPILE_S = (3, 8)

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="camera name/serial, tcp://HOST:PORT, unix:///PATH or a recording")
    parser.add_argument("output", help="file to write (.aedat4, .raw, .evt2.raw: a crash keeps what was written)")
    parser.add_argument("--duration-s", type=types.duration_s, default=None, metavar="S", help="stop after S seconds")
    add_setting(parser, all_settings()["reconnect"])
    add_geometry_option(parser)


def run(args: argparse.Namespace) -> int:
    check_writable(args.output, recording=True)  # before the source opens (a replay may scan its file first)
    source = open_source(args.source, geometry=args.geometry, reconnect=args.reconnect, speed=1.0)
    recorder = Recorder(args.output, source.geometry, source.info)
    thread = SourceThread(source, tap=recorder, name="ezsr-record")
    # the duration counts from the first event delivered, not from the source's opening
    # (a camera or a peer can take seconds before anything arrives)
    timer = threading.Timer(args.duration_s, thread.stop) if args.duration_s is not None else None
    try:
        thread.start()
        for _ in thread:  # the recorder taps the source thread; here we only wait
            if timer and not timer.is_alive() and not timer.finished.is_set():
                timer.start()
    finally:
        if timer:
            timer.cancel()
        thread.stop()
        recorder.close()
    log.info("%s: %s; recorded %d events to %s", args.source, source.status, recorder.n_written, args.output)
    return 0
