"""DV network benchmark: events per second through our isolated network source against
dv.io.NetworkReader in-process, both fed by the same real dv.io.NetworkWriter peer.

The peer (a child process) streams the real .aedat4 sample again and again, as the
recording's own packets or merged into larger ones, over loopback TCP as fast as it
can; the receiver counts events until the peer's end of stream.
Ours: ``open_source("tcp://...")`` (socket read, framing checks and Numba decoding in
the reader process, raw EVENT_DTYPE frames over a pipe). Peer library: dv's
NetworkReader polled in this process, converted to EVENT_DTYPE as the source used to.
Rounds alternate between the two. Usage:

    python benchmarks/bench_network.py [--seconds 12] [--rounds 3] [--packet-events 0 16384]

(``--packet-events 0``: the recording's own packets, about 1,000 events each). The
writer drops packets a slow reader cannot take (dv's NetworkWriter does, and so does
dv's NetworkReader when its queue of 1,000 packets is full): the rate is what a receiver
sustains after WARMUP_S, and the events it lost are counted. Prints a table, then one
JSON line; ``ratio`` is isolated / in-process at the recording's own packets,
``ratio_large`` at the last packet size given.
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data import SAMPLES, scratch_dir  # noqa: E402

from ezsr_live.drivers.dv_common import eventstore_to_packet  # noqa: E402
from ezsr_live.drivers.sources import open_source  # noqa: E402
from ezsr_live.errors import SourceError  # noqa: E402
from ezsr_live.events import Geometry  # noqa: E402

SAMPLE = "dvxplorer_320x240.aedat4"
#: left out of each rate: connecting, starting the reader process, loading its kernel
WARMUP_S = 5.0

# one peer process per round: it loads the recording, listens, prints READY, streams
# once a client is connected, waits for its queue to drain and vanishes (os._exit: the
# connection just ends, as with a real peer going away)
PEER = textwrap.dedent("""
    import os, sys, time
    import dv_processing as dv
    path, port, seconds, size = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    rec = dv.io.MonoCameraRecording(path)
    batches = []
    while (b := rec.getNextEventBatch()) is not None:
        batches.append(b)
    packets = batches
    if size > 0:
        packets, store = [], dv.EventStore()
        for b in batches:
            store.add(b)
            if store.size() >= size:
                packets.append(store)
                store = dv.EventStore()
    stream = dv.io.Stream.EventStream(0, "events", rec.getCameraName(), rec.getEventResolution())
    writer = dv.io.NetworkWriter("127.0.0.1", port, stream)
    print("READY", flush=True)
    while writer.getClientCount() == 0:
        time.sleep(0.001)
    sent, end = 0, time.monotonic() + seconds
    once = seconds < 0  # each packet once: for capturing what a writer sends
    while once or time.monotonic() < end:
        once = False
        for p in packets:
            writer.writeEvents(p)
            sent += p.size()
            # NetworkWriter drops packets once its queue runs long: keep it short, and
            # leave the CPU to its sending thread meanwhile
            while writer.getQueuedPacketCount() > 8:
                time.sleep(0.0005)
    while writer.getQueuedPacketCount() > 0:
        time.sleep(0.001)
    print("DONE", sent, flush=True)
    os._exit(0)
""")

# the same bytes without the writer: what one NetworkWriter session sent for the
# recording (captured once per packet size), sent again and again with blocking
# sendall, so that TCP back-pressure (not a drop policy) paces the sender and the rate
# is the receiver's own ceiling
REPLAY = textwrap.dedent("""
    import os, socket, struct, sys, time
    data, port, seconds = open(sys.argv[1], "rb").read(), int(sys.argv[2]), float(sys.argv[3])
    (size,) = struct.unpack_from("<I", data, 0)
    header, body = data[:4 + size], data[4 + size:]
    events = (len(body) - 36 * body.count(b"EVTS")) // 16  # about: 36 framing bytes a packet
    server = socket.create_server(("127.0.0.1", port))
    print("READY", flush=True)
    conn, _ = server.accept()
    conn.sendall(header)
    sent, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        conn.sendall(body)
        sent += events
    print("DONE", sent, flush=True)
    os._exit(0)
""")


class Peer:
    """A real dv.io.NetworkWriter streaming for ``seconds`` in its own process, or (with
    ``replay``) a plain socket sending the bytes of such a session again and again."""

    def __init__(self, recording: Path, seconds: float, packet_events: int, replay: Path | None = None) -> None:
        self.port = free_port()
        command = ([sys.executable, "-c", PEER, str(recording), str(self.port), str(seconds), str(packet_events)]
                   if replay is None else [sys.executable, "-c", REPLAY, str(replay), str(self.port), str(seconds)])
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "READY"
        self.uri = f"tcp://127.0.0.1:{self.port}"

    def done(self) -> int:
        line = self.proc.stdout.readline().split()
        self.proc.wait(timeout=60)
        assert line and line[0] == "DONE", line
        return int(line[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Meter:
    """Events received over time; the rate leaves out the first WARMUP_S (connection,
    process and kernel start) so that it is the sustained one."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.counts: list[int] = []
        self.n = 0

    def add(self, n: int) -> None:
        self.n += n
        self.times.append(time.perf_counter())
        self.counts.append(self.n)

    def rate(self) -> float:
        start = next(i for i, t in enumerate(self.times) if t >= self.times[0] + WARMUP_S)
        return (self.n - self.counts[start]) / (self.times[-1] - self.times[start]) / 1e6


def isolated(uri: str) -> Meter:
    source = open_source(uri)
    meter = Meter()
    for packet in source:
        meter.add(len(packet))
    assert source.status == "ended: peer disconnected", source.status
    return meter


def in_process(uri: str) -> Meter:
    import dv_processing as dv

    host, port = uri[len("tcp://"):].split(":")
    reader = dv.io.NetworkReader(host, int(port))
    geometry = Geometry(*reader.getEventResolution())
    meter = Meter()
    while True:
        batch = reader.getNextEventBatch()
        if batch is not None and batch.size() > 0:
            meter.add(len(eventstore_to_packet(batch, geometry)[0]))
        elif not reader.isRunning():
            break
        else:
            time.sleep(0.0005)  # the old source's idle poll
    return meter


def _connect_retry(fn, uri: str) -> Meter:
    deadline = time.monotonic() + 30
    while True:
        try:
            return fn(uri)
        except (SourceError, RuntimeError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def capture(recording: Path, packet_events: int, out: Path) -> Path:
    """What a NetworkWriter sends for ``recording`` once, read with a plain socket."""
    peer = Peer(recording, -1, packet_events)
    chunks = []
    with socket.create_connection(("127.0.0.1", peer.port)) as sock:
        while data := sock.recv(1 << 20):
            chunks.append(data)
    peer.done()
    out.write_bytes(b"".join(chunks))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=12.0, help="how long the peer streams per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--packet-events", type=int, nargs="+", default=[0, 16384])
    args = parser.parse_args()
    scratch = scratch_dir()
    replays = {size: capture(SAMPLES / SAMPLE, size, scratch / f"session{size}.bin") for size in args.packet_events}
    results: dict[tuple[str, int, str], list[float]] = {}
    lost: dict[tuple[str, int, str], int] = {}
    try:
        for peer_kind in ("networkwriter", "replay"):
            for size in args.packet_events:
                for _ in range(args.rounds):
                    for name, fn in (("isolated", isolated), ("inprocess", in_process)):  # interleaved
                        peer = Peer(SAMPLES / SAMPLE, args.seconds, size,
                                    replays[size] if peer_kind == "replay" else None)
                        try:
                            meter = _connect_retry(fn, peer.uri)
                            sent = peer.done()
                        finally:
                            peer.proc.kill()
                            peer.proc.wait()
                        key = (peer_kind, size, name)
                        results.setdefault(key, []).append(meter.rate())
                        lost[key] = lost.get(key, 0) + max(0, sent - meter.n)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{'peer':>14} {'packet events':>14} {'receiver':>10} {'median Mev/s':>13} {'rounds':>20} "
          f"{'events lost':>12}")
    for (peer_kind, size, name), rates in results.items():
        print(f"{peer_kind:>14} {size or 'recording':>14} {name:>10} {statistics.median(rates):13.1f} "
              f"{' '.join(f'{r:.1f}' for r in rates):>20} {lost[(peer_kind, size, name)]:>12}")

    def median(peer_kind: str, size: int, name: str) -> float:
        return round(statistics.median(results[(peer_kind, size, name)]), 1)

    own, large = args.packet_events[0], args.packet_events[-1]
    summary = {
        "network_isolated_mev_s": median("networkwriter", own, "isolated"),
        "network_inprocess_mev_s": median("networkwriter", own, "inprocess"),
        "ratio": round(median("networkwriter", own, "isolated") / median("networkwriter", own, "inprocess"), 2),
        "packet_events": own,
        "network_isolated_large_mev_s": median("networkwriter", large, "isolated"),
        "network_inprocess_large_mev_s": median("networkwriter", large, "inprocess"),
        "ratio_large": round(median("networkwriter", large, "isolated") /
                             median("networkwriter", large, "inprocess"), 2),
        "packet_events_large": large,
        "replay_isolated_mev_s": median("replay", own, "isolated"),
        "replay_inprocess_mev_s": median("replay", own, "inprocess"),
        "replay_ratio": round(median("replay", own, "isolated") / median("replay", own, "inprocess"), 2),
        "replay_isolated_large_mev_s": median("replay", large, "isolated"),
        "replay_inprocess_large_mev_s": median("replay", large, "inprocess"),
        "replay_ratio_large": round(median("replay", large, "isolated") / median("replay", large, "inprocess"), 2),
        "peer_seconds_per_round": args.seconds,
        "warmup_s": WARMUP_S,
        "rounds": args.rounds,
        "events_lost_isolated": sum(v for k, v in lost.items() if k[2] == "isolated"),
        "events_lost_inprocess": sum(v for k, v in lost.items() if k[2] == "inprocess"),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
