"""A real DV network peer for tests: serves a recording's events with dv.io.NetworkWriter.

Runs in its own process (so a test can make it vanish abruptly, like a crashed peer):
    python dv_stream_server.py RECORDING (tcp:PORT | unix:PATH) [--limit N] [--then exit|wait]
                               [--compression NONE|LZ4|ZSTD|...]
Prints READY once listening and SENT <n> once its events are handed to the network.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import dv_processing as dv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recording")
    parser.add_argument("address")
    parser.add_argument("--limit", type=int, default=None, help="send about this many events only")
    parser.add_argument("--then", choices=("exit", "wait"), default="wait")
    parser.add_argument("--compression", default="NONE", help="a dv.CompressionType name")
    args = parser.parse_args()
    rec = dv.io.MonoCameraRecording(args.recording)
    stream = dv.io.Stream.EventStream(0, "events", rec.getCameraName(), rec.getEventResolution())
    stream.setCompression(getattr(dv.CompressionType, args.compression))
    kind, _, where = args.address.partition(":")
    if kind == "tcp":
        writer = dv.io.NetworkWriter("127.0.0.1", int(where), stream)
    else:
        writer = dv.io.NetworkWriter(dv.Path(where), stream)
    print("READY", flush=True)
    deadline = time.monotonic() + 20
    while writer.getClientCount() == 0:
        if time.monotonic() > deadline:
            os._exit(3)
        time.sleep(0.005)
    sent = 0
    while args.limit is None or sent < args.limit:
        batch = rec.getNextEventBatch()
        if batch is None:
            break
        writer.writeEvents(batch)
        sent += batch.size()
    while writer.getQueuedPacketCount() > 0:
        time.sleep(0.005)
    print(f"SENT {sent}", flush=True)
    if args.then == "wait":
        sys.stdin.read()  # until the test closes our stdin or kills us
    # leave without running NetworkWriter's destructor: the peer just vanishes
    os._exit(0)


if __name__ == "__main__":
    main()
