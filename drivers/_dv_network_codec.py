"""The DV network stream format, read defensively: every size and offset a peer sends is
checked before anything is allocated or indexed with it.

A DV network stream (what ``dv.io.NetworkWriter`` or DV's network outputs send) is the
body of an AEDAT 4 file without its version line or data table:

    <u4 header size N> <IOHeader flatbuffer, N bytes, identifier "IOHE">
    then packets: <i4 stream id> <i4 size S> <S bytes: the packet>

The IOHeader carries the compression (a table field; ``NONE`` for NetworkWriter's
default) and an XML description of the streams (``outInfo/<id>`` nodes with
``typeIdentifier``, ``originalOutputName`` and an ``info`` node with ``sizeX``,
``sizeY``, ``source``). An uncompressed event packet is a size-prefixed ``EventPacket``
flatbuffer (identifier ``EVTS``) whose one field is a vector of 16-byte ``Event``
structs: ``<i8 timestamp, <i2 x, <i2 y, u1 polarity`` and 3 bytes of padding.

dv-processing 2.0.4 trusts all of this: it resizes a buffer to whatever size a packet
header says (``std::length_error`` on a negative size aborts the process from its
reading thread; 2^31-1 makes it allocate 2 GiB), throws from that thread on a wrong
type identifier (abort again), and unpacks event packets without verifying the
flatbuffer. Here the header is checked in Python, and packets are validated and
decoded by one Numba kernel (:func:`._dv_network_kernel.scan_packets`) that
bounds-checks every offset itself, since Numba does not. Its numpy twin
:func:`scan_packets_reference` (same contract, Python per packet, numpy per event)
decodes while the kernel loads (about a second of CPU in a fresh process: most
connections that fail, fail sooner) and is the kernel's oracle in the tests. This
module stays free of Numba.
"""
from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np

#: IOHeaders seen in practice are about 1 KB (one stream's XML description); anything
#: larger than this is not a DV stream header, and never gets a buffer
MAX_IO_HEADER_BYTES = 1 << 20
#: largest packet accepted: 4 Mi events uncompressed (a 1280x720 sensor at 400 Mev/s
#: sends about a tenth of that per 10 ms packet); bounds what one peer can make us hold
MAX_PACKET_BYTES = 64 << 20
#: dv's event coordinates are int16
MAX_RESOLUTION = 32767
DV_EVENT_BYTES = 16
COMPRESSION_NAMES = ("NONE", "LZ4", "LZ4_HIGH", "ZSTD", "ZSTD_HIGH")
COMPRESSION_NONE = 0
EVENT_TYPE = "EVTS"

#: dv's Event struct, as it lies in an EventPacket's vector
DV_EVENT_DTYPE = np.dtype({"names": ["t", "x", "y", "p"], "formats": ["<i8", "<i2", "<i2", "u1"],
                           "offsets": [0, 8, 10, 12], "itemsize": DV_EVENT_BYTES})
_IO_HEADER_ID = b"IOHE"
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U16 = struct.Struct("<H")

# _dv_network_kernel.scan_packets status codes
SCAN_NEED_MORE = 0  # the next packet is not complete in the buffer; detail = bytes it needs from pos
SCAN_OUTPUT_FULL = 1  # the next packet's events do not fit the output; detail = its event count
SCAN_OTHER_STREAM = 2  # the next (complete) packet belongs to another stream; detail = its id
SCAN_BAD_SIZE = 3  # the next packet header declares an impossible size; detail = that size
SCAN_TOO_SHORT = 4  # the packet is too short to be a flatbuffer; detail = its size
SCAN_BAD_PREFIX = 5  # the flatbuffer's size prefix exceeds the packet; detail = the prefix
SCAN_BAD_IDENTIFIER = 6  # not an EventPacket; detail = the 4 identifier bytes as <u4
SCAN_BAD_LAYOUT = 7  # a table, vtable or vector offset points outside the packet; detail = which


class PeerError(Exception):
    """The peer sent something that is not a valid DV event stream (message says what)."""


@dataclass(frozen=True)
class StreamHeader:
    """What the IOHeader says about the stream the source reads (the lowest-numbered
    declared stream, as dv.io.NetworkReader picks it)."""

    compression: int
    stream_id: int
    stream_name: str
    type_identifier: str
    width: int
    height: int
    camera: str
    declared_ids: frozenset[int]

    @property
    def compression_name(self) -> str:
        return COMPRESSION_NAMES[self.compression]


def check_header_size(size: int) -> None:
    if not 8 <= size <= MAX_IO_HEADER_BYTES:
        raise PeerError(f"the peer's stream header declares {size} bytes (a DV IOHeader has 8 to "
                        f"{MAX_IO_HEADER_BYTES} bytes): not a DV stream")


def _table_fields(buf: bytes, table: int) -> tuple[int, int]:
    """(vtable position, vtable size) of the flatbuffer table at ``table``, checked."""
    if not 8 <= table <= len(buf) - 4:
        raise PeerError("the stream header's IOHeader table lies outside it")
    vtable = table - _I32.unpack_from(buf, table)[0]
    if not 0 <= vtable <= len(buf) - 4:
        raise PeerError("the stream header's IOHeader vtable lies outside it")
    vt_size = _U16.unpack_from(buf, vtable)[0]
    if vt_size < 4 or vt_size % 2 or vtable + vt_size > len(buf):
        raise PeerError("the stream header's IOHeader vtable is damaged")
    return vtable, vt_size


def _field(buf: bytes, table: int, vtable: int, vt_size: int, index: int, width: int) -> int | None:
    """Absolute position of field ``index`` (``width`` bytes), None when absent."""
    slot = vtable + 4 + 2 * index
    if slot + 2 > vtable + vt_size:
        return None
    offset = _U16.unpack_from(buf, slot)[0]
    if offset == 0:
        return None
    if table + offset + width > len(buf):
        raise PeerError("a field of the stream header's IOHeader lies outside it")
    return table + offset


def parse_io_header(buf: bytes) -> tuple[int, str]:
    """(compression, XML description) of an IOHeader flatbuffer; raises PeerError.

    IOHeader fields: 0 compression (int32 enum), 1 dataTablePosition (int64, unused
    on a network stream), 2 infoNode (string).
    """
    if len(buf) < 8 or buf[4:8] != _IO_HEADER_ID:
        raise PeerError(f"the peer's stream header is not a DV IOHeader (identifier {bytes(buf[4:8])!r}, "
                        f"expected {_IO_HEADER_ID!r})")
    table = _U32.unpack_from(buf, 0)[0]
    vtable, vt_size = _table_fields(buf, table)
    at = _field(buf, table, vtable, vt_size, 0, 4)
    compression = 0 if at is None else _I32.unpack_from(buf, at)[0]
    if not 0 <= compression < len(COMPRESSION_NAMES):
        raise PeerError(f"the stream header declares an unknown compression ({compression})")
    at = _field(buf, table, vtable, vt_size, 2, 4)
    if at is None:
        raise PeerError("the stream header has no stream description")
    start = at + _U32.unpack_from(buf, at)[0]
    if not at < start <= len(buf) - 4:
        raise PeerError("the stream header's description lies outside it")
    length = _U32.unpack_from(buf, start)[0]
    if start + 4 + length > len(buf):
        raise PeerError("the stream header's description runs past its end")
    text = bytes(buf[start + 4:start + 4 + length]).decode("utf-8", "replace")
    return compression, text


def _attributes(node: ET.Element) -> dict[str, str]:
    return {a.get("key", ""): (a.text or "") for a in node.findall("attr")}


def parse_stream_description(compression: int, text: str) -> StreamHeader:
    """The stream a DV reader would pick from the IOHeader's XML; raises PeerError."""
    try:
        # expat (Python >= 3.11 bundles >= 2.4) refuses entity-expansion bombs itself,
        # and the text is at most MAX_IO_HEADER_BYTES
        root = ET.fromstring(text)
    except (ET.ParseError, ValueError) as exc:
        raise PeerError(f"the stream header's description is not valid XML ({exc})") from None
    info = next((n for n in root.findall("node") if n.get("name") == "outInfo"), None)
    streams: dict[int, tuple[ET.Element, dict[str, str]]] = {}
    for node in [] if info is None else info.findall("node"):
        attrs = _attributes(node)
        if "originalOutputName" not in attrs or "typeIdentifier" not in attrs:
            continue  # as dv: a node without them declares no stream
        try:
            stream_id = int(node.get("name", ""))
        except ValueError:
            raise PeerError(f"the stream header names a stream {node.get('name')!r}, not a number") from None
        streams[stream_id] = (node, attrs)
    if not streams:
        raise PeerError("the stream header declares no stream")
    stream_id = min(streams)
    node, attrs = streams[stream_id]
    if attrs["typeIdentifier"] != EVENT_TYPE:
        raise PeerError(f"the peer sends no event stream (its stream {stream_id} carries "
                        f"{attrs['typeIdentifier']!r} data)")
    details = next((_attributes(n) for n in node.findall("node") if n.get("name") == "info"), {})
    if "sizeX" not in details or "sizeY" not in details:
        raise PeerError("the event stream declares no resolution")
    try:
        width, height = int(details["sizeX"]), int(details["sizeY"])
    except ValueError:
        raise PeerError(f"the event stream declares an unreadable resolution "
                        f"({details['sizeX']!r} x {details['sizeY']!r})") from None
    if not (0 < width <= MAX_RESOLUTION and 0 < height <= MAX_RESOLUTION):
        raise PeerError(f"the event stream declares an impossible resolution {width}x{height}")
    return StreamHeader(compression=compression, stream_id=stream_id, stream_name=attrs["originalOutputName"],
                        type_identifier=attrs["typeIdentifier"], width=width, height=height,
                        camera=details.get("source", ""), declared_ids=frozenset(streams))


def describe_scan_error(status: int, detail: int, stream_id: int, size: int, offset: int) -> str:
    """One line for a bad packet at stream byte ``offset`` (after the header)."""
    where = f"the packet at stream byte {offset} (stream {stream_id}, {size} bytes)"
    if status == SCAN_BAD_SIZE:
        return (f"a packet header at stream byte {offset} declares {detail} bytes "
                f"(a packet has 1 to {MAX_PACKET_BYTES} bytes)")
    if status == SCAN_TOO_SHORT:
        return f"{where} is too short to be an event packet"
    if status == SCAN_BAD_PREFIX:
        return f"{where} declares a {detail}-byte flatbuffer that does not fit it"
    if status == SCAN_BAD_IDENTIFIER:
        ident = _U32.pack(detail & 0xFFFFFFFF)
        return f"{where} is not an event packet (type identifier {ident!r}, expected {EVENT_TYPE!r})"
    if status == SCAN_BAD_LAYOUT:
        return f"{where} is damaged (its {('table', 'vtable', 'event vector')[detail]} lies outside it)"
    if status == SCAN_OTHER_STREAM:
        return f"a packet at stream byte {offset} belongs to stream {detail}, which the stream header does not declare"
    return f"{where} cannot be read (status {status})"


# ======================================================================================
# the numpy twin of _dv_network_kernel.scan_packets
# ======================================================================================

_PACKET_HEADER = struct.Struct("<ii")
_OK = -1


def _event_vector(b, body: int, size: int) -> tuple[int, int, int, int]:
    if size < 12:
        return SCAN_TOO_SHORT, size, 0, 0
    (prefix,) = _U32.unpack_from(b, body)
    if prefix < 8 or prefix > size - 4:
        return SCAN_BAD_PREFIX, prefix, 0, 0
    fb = body + 4
    end = fb + prefix
    if bytes(b[fb + 4:fb + 8]) != EVENT_TYPE.encode():
        return SCAN_BAD_IDENTIFIER, _U32.unpack_from(b, fb + 4)[0], 0, 0
    table = fb + _U32.unpack_from(b, fb)[0]
    if table < fb + 8 or table > end - 4:
        return SCAN_BAD_LAYOUT, 0, 0, 0
    vtable = table - _I32.unpack_from(b, table)[0]
    if vtable < fb or vtable > end - 4:
        return SCAN_BAD_LAYOUT, 1, 0, 0
    vt_size, obj_size = struct.unpack_from("<HH", b, vtable)
    if vt_size < 4 or vtable + vt_size > end or obj_size < 4 or table + obj_size > end:
        return SCAN_BAD_LAYOUT, 1, 0, 0
    field = _U16.unpack_from(b, vtable + 4)[0] if vt_size >= 6 else 0
    if field == 0:
        return _OK, 0, 0, 0
    if field + 4 > obj_size:
        return SCAN_BAD_LAYOUT, 0, 0, 0
    at = table + field
    vector = at + _U32.unpack_from(b, at)[0]
    if vector > end - 4:
        return SCAN_BAD_LAYOUT, 2, 0, 0
    (n,) = _U32.unpack_from(b, vector)
    if n * DV_EVENT_BYTES > end - vector - 4:
        return SCAN_BAD_LAYOUT, 2, 0, 0
    return _OK, 0, vector + 4, n


def scan_packets_reference(b: np.ndarray, pos: int, end: int, stream_id: int, max_packet: int,
                           width: int, height: int, out: np.ndarray, n_out: int) -> tuple[int, int, int, int, int]:
    """:func:`._dv_network_kernel.scan_packets` in Python and numpy: same arguments,
    same ``(status, detail, pos, n_out, dropped)``, same events."""
    cap = len(out)
    dropped = 0
    while True:
        if end - pos < 8:
            return SCAN_NEED_MORE, 8, pos, n_out, dropped
        sid, size = _PACKET_HEADER.unpack_from(b, pos)
        if size <= 0 or size > max_packet:
            return SCAN_BAD_SIZE, size, pos, n_out, dropped
        if end - pos - 8 < size:
            return SCAN_NEED_MORE, 8 + size, pos, n_out, dropped
        if sid != stream_id:
            return SCAN_OTHER_STREAM, sid, pos, n_out, dropped
        status, detail, vector, n = _event_vector(b, pos + 8, size)
        if status != _OK:
            return status, detail, pos, n_out, dropped
        if n_out + n > cap:
            return SCAN_OUTPUT_FULL, n, pos, n_out, dropped
        if n:
            records = np.frombuffer(b, DV_EVENT_DTYPE, count=n, offset=vector)
            x, y = records["x"], records["y"]
            keep = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            kept = records if keep.all() else records[keep]
            part = out[n_out:n_out + len(kept)]
            part["t"] = kept["t"]
            part["x"] = kept["x"]
            part["y"] = kept["y"]
            part["p"] = kept["p"] != 0
            n_out += len(kept)
            dropped += n - len(kept)
        pos += 8 + size
