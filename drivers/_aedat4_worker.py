"""Child process that reads an .aedat4 file through dv-processing for
:class:`ezsr_live.drivers.aedat4.Aedat4Reader` (Zstd-compressed files only: LZ4 and
uncompressed ones are decoded in-process).

dv-processing 2.0.4 can spin forever (holding the GIL) or crash on a corrupted
LZ4 packet, which no in-process code can interrupt; running it here lets the parent
enforce a stall timeout and turn crashes into FormatErrors. Usage::

    python -m ezsr_live.drivers._aedat4_worker info|events PATH

Messages on stdout are ``kind (1 byte) + payload length (<u8) + payload``:
``I`` info (JSON), ``E`` events (dv's own structured ``numpy()`` bytes, dtype in the
``I`` message), ``T`` triggers (TRIGGER_DTYPE bytes), ``X`` error (UTF-8 text),
``D`` done. Pipe back-pressure keeps the child at most one batch ahead.
"""
from __future__ import annotations

import json
import struct
import sys
from typing import BinaryIO

import numpy as np

from ezsr_live.events import TRIGGER_DTYPE

#: dv trigger types kept, as (id, p) of TRIGGER_DTYPE: id 0 = external signal input,
#: id 1 = the camera's signal generator; p = edge (1 rising/pulse, 0 falling)
DV_TRIGGER_MAP = {
    "EXTERNAL_SIGNAL_RISING_EDGE": (0, 1),
    "EXTERNAL_SIGNAL_FALLING_EDGE": (0, 0),
    "EXTERNAL_SIGNAL_PULSE": (0, 1),
    "EXTERNAL_GENERATOR_RISING_EDGE": (1, 1),
    "EXTERNAL_GENERATOR_FALLING_EDGE": (1, 0),
}


def send(out: BinaryIO, kind: bytes, payload: bytes) -> None:
    out.write(kind + struct.pack("<Q", len(payload)))
    out.write(payload)
    out.flush()


def _triggers_to_array(batch) -> np.ndarray:  # type: ignore[no-untyped-def]
    # trigger batches are a few elements; dv exposes them only as objects
    rows = [(int(tr.timestamp), *DV_TRIGGER_MAP[tr.type.name]) for tr in batch if tr.type.name in DV_TRIGGER_MAP]
    return np.array(rows, dtype=TRIGGER_DTYPE)


def _info(recording, path: str) -> dict:  # type: ignore[no-untyped-def]
    import dv_processing as dv

    has_events = recording.isEventStreamAvailable()
    dt = dv.EventStore().numpy().dtype
    return {
        "has_events": bool(has_events),
        "has_triggers": bool(recording.isTriggerStreamAvailable()),
        "camera": recording.getCameraName(),
        "resolution": list(recording.getEventResolution() or ()) if has_events else None,
        "streams": list(recording.getStreamNames()),
        "dv_dtype": {
            "names": list(dt.names),
            "formats": [dt.fields[n][0].str for n in dt.names],
            "offsets": [dt.fields[n][1] for n in dt.names],
            "itemsize": dt.itemsize,
        },
    }


def main(argv: list[str]) -> int:
    out = sys.stdout.buffer
    mode, path = argv[0], argv[1]
    try:
        import dv_processing as dv

        recording = dv.io.MonoCameraRecording(path)
        info = _info(recording, path)
        send(out, b"I", json.dumps(info).encode())
        if mode == "events" and info["has_events"]:
            pending_trigger_time = -1  # highest trigger time already sent
            while True:
                batch = recording.getNextEventBatch()
                if batch is None:
                    break
                send(out, b"E", batch.numpy().tobytes())
                if info["has_triggers"]:
                    # keep triggers roughly in step with events (they are rare)
                    horizon = batch.getHighestTime()
                    while pending_trigger_time <= horizon:
                        triggers = recording.getNextTriggerBatch()
                        if triggers is None:
                            info["has_triggers"] = False
                            break
                        array = _triggers_to_array(triggers)
                        if len(triggers):
                            pending_trigger_time = int(triggers[len(triggers) - 1].timestamp)
                        if len(array):
                            send(out, b"T", array.tobytes())
            while info["has_triggers"]:
                triggers = recording.getNextTriggerBatch()
                if triggers is None:
                    break
                array = _triggers_to_array(triggers)
                if len(array):
                    send(out, b"T", array.tobytes())
    except Exception as exc:  # noqa: BLE001 - anything dv raises is reported to the parent
        send(out, b"X", f"{type(exc).__name__}: {exc}".encode())
        return 0
    send(out, b"D", b"")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
