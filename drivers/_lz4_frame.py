"""LZ4 frames (the compression of AEDAT 4 packets), decoded for :mod:`._aedat4_decode`.

Blocks are decompressed by ``LZ4_decompress_safe_usingDict``, LZ4's decoder made for
hostile input (the one dv-processing uses). python-lz4 links LZ4 statically and its
extension exports that symbol, so a numba kernel calls it directly: a whole frame
(every block, linked blocks reading their predecessors in place) costs one call, with
no Python work per 64 KB block and no intermediate ``bytes``. Where the symbol is not
reachable (a python-lz4 build that hides it), :func:`lz4_frame_decode` walks the frame
in Python and passes each block to ``lz4.block.decompress`` (same results, same
checks, 1.5x slower).

Every size is checked before use: the frame descriptor, each block against the
frame's block size and the frame's end, the room needed against
:data:`MAX_PACKET_BYTES`. Damage raises :class:`PacketError`.
"""
from __future__ import annotations

import ctypes
import struct

import lz4.block
import numpy as np
from numba import njit, types
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic

#: a packet (compressed or decompressed) larger than this is refused: dv writes
#: packets of a few thousand events (10,000 at most from its writer), about 160 KB
MAX_PACKET_BYTES = 256 << 20

_U32 = struct.Struct("<I")
_LZ4_MAGIC = 0x184D2204
_LZ4_WINDOW = 64 << 10


class PacketError(ValueError):
    """A packet's content cannot be decoded (the message says why)."""


class Scratch:
    """A growable byte buffer reused from packet to packet (at most MAX_PACKET_BYTES)."""

    def __init__(self, size: int = 1 << 20) -> None:
        self.array = np.empty(size, np.uint8)

    def reserve(self, n: int, keep: int = 0) -> memoryview:
        if n > MAX_PACKET_BYTES:
            raise PacketError(f"packet decompresses to more than {MAX_PACKET_BYTES >> 20} MiB")
        if n > len(self.array):
            grown = np.empty(min(MAX_PACKET_BYTES, max(n, 2 * len(self.array))), np.uint8)
            grown[:keep] = self.array[:keep]
            self.array = grown
        return memoryview(self.array)


#: the name under which the kernel links LZ4's safe decoder (private: no clash with
#: another copy of LZ4 in the process)
_LZ4_SYMBOL = "ezsr_live_LZ4_decompress_safe_usingDict"


def _register_lz4_decoder() -> bool:
    """Make python-lz4's ``LZ4_decompress_safe_usingDict`` linkable from numba code."""
    import llvmlite.binding

    try:
        function = ctypes.CDLL(lz4.block._block.__file__).LZ4_decompress_safe_usingDict
    except (OSError, AttributeError):
        return False
    address = ctypes.cast(function, ctypes.c_void_p).value
    if not address:
        return False
    llvmlite.binding.add_symbol(_LZ4_SYMBOL, address)
    return True


#: True where the kernels call LZ4 (python-lz4 exports its symbols)
HAVE_LZ4_KERNEL = _register_lz4_decoder()
if not HAVE_LZ4_KERNEL:
    import llvmlite.binding

    # the kernels still link against the symbol; this stub is never called
    _STUB = ctypes.CFUNCTYPE(ctypes.c_int)(lambda: -1)
    llvmlite.binding.add_symbol(_LZ4_SYMBOL, ctypes.cast(_STUB, ctypes.c_void_p).value)

# int LZ4_decompress_safe_usingDict(const char* src, char* dst, int srcSize,
#                                   int dstCapacity, const char* dictStart, int dictSize)
_lz4_decompress = types.ExternalFunction(
    _LZ4_SYMBOL, types.int32(types.voidptr, types.voidptr, types.int32, types.int32, types.voidptr, types.int32))


@intrinsic
def address(typingctx, array, offset):
    """``&array[offset]`` of a uint8 array, as a C pointer."""
    def codegen(context, builder, signature, args):
        view = context.make_array(signature.args[0])(context, builder, args[0])
        return builder.gep(builder.bitcast(view.data, cgutils.voidptr_t), [args[1]])
    return types.voidptr(array, types.intp), codegen


# status codes of _lz4_frame (PacketError messages in LZ4_ERRORS)
LZ4_OK = 0
LZ4_NEED_ROOM = 1  # value: the bytes ``out`` must hold
LZ4_ERRORS = {
    2: "LZ4 frame lacks its magic number",
    3: "LZ4 frame descriptor is invalid (FLG {0:#04x}, BD {1:#04x})",
    4: "LZ4 frame is truncated (no end mark)",
    5: "LZ4 block of {2} bytes does not fit its frame",
    6: "LZ4 frame is truncated",
    7: "bytes follow the LZ4 frame's end",
    8: "LZ4 block is corrupt",
}


def _load_intrinsic(bits: int, signed: bool):
    """An intrinsic ``f(buf, i)``: the little-endian integer of ``bits`` bits at byte
    ``i`` of the uint8 array ``buf`` (one unaligned load; the caller checks ``i``)."""
    result = types.int64

    @intrinsic
    def load(typingctx, array, offset):
        def codegen(context, builder, signature, args):
            view = context.make_array(signature.args[0])(context, builder, args[0])
            at = builder.gep(builder.bitcast(view.data, cgutils.voidptr_t), [args[1]])
            word = ir.IntType(bits)
            value = builder.load(builder.bitcast(at, word.as_pointer()), align=1)
            wide = context.get_value_type(result)
            return builder.sext(value, wide) if signed else builder.zext(value, wide)
        return result(array, types.intp), codegen
    return load


u16_at = _load_intrinsic(16, False)
u32_at = _load_intrinsic(32, False)
i32_at = _load_intrinsic(32, True)
i64_at = _load_intrinsic(64, True)


@njit(nogil=True, cache=True)
def lz4_frame(src, n, out):
    """Decompress the LZ4 frame ``src[:n]`` into ``out``: returns ``(status, value)``,
    value the decompressed size (status ``LZ4_OK``), the room needed
    (``LZ4_NEED_ROOM``, nothing written) or a detail of the error.

    A first pass checks the frame's layout (descriptor, every block inside the frame,
    end mark, nothing after) and that ``out`` can take a full block per block, so the
    second pass never writes past ``out``: LZ4 bounds each block's output by the block
    maximum given to it, and reads only inside the block and the 64 KB before it."""
    if n < 7 or u32_at(src, 0) != _LZ4_MAGIC:
        return 2, 0
    flg = np.int64(src[4])
    bd = np.int64(src[5])
    size_code = (bd >> 4) & 7
    if flg >> 6 != 1 or flg & 0x03 or bd & 0x8F or size_code < 4:
        return 3, (flg << 8) | bd
    block_max = np.int64(1) << (8 + 2 * size_code)
    linked = ((flg >> 5) & 1) == 0
    block_checksum = 4 if (flg >> 4) & 1 else 0
    first = 7 + (8 if (flg >> 3) & 1 else 0)
    ip = first
    blocks = 0
    while True:
        if n - ip < 4:
            return 4, 0
        word = u32_at(src, ip)
        ip += 4
        if word == 0:
            break
        size = word & 0x7FFFFFFF
        if size > block_max or size + block_checksum > n - ip:
            return 5, size
        ip += size + block_checksum
        blocks += 1
    ip += 4 if (flg >> 2) & 1 else 0  # content checksum (not verified, as dv)
    if ip != n:
        return (6 if ip > n else 7), 0
    if blocks * block_max > out.shape[0]:
        return LZ4_NEED_ROOM, blocks * block_max
    ip = first
    op = np.int64(0)
    for _ in range(blocks):
        word = u32_at(src, ip)
        ip += 4
        size = word & 0x7FFFFFFF
        if word & 0x80000000:  # stored uncompressed
            out[op:op + size] = src[ip:ip + size]
            op += size
        else:
            window = min(op, _LZ4_WINDOW) if linked else 0
            got = _lz4_decompress(address(src, ip), address(out, op), size, block_max,
                                  address(out, op - window), window)
            if got < 0:
                return 8, 0
            op += got
        ip += size + block_checksum
    return LZ4_OK, op


def lz4_frame_decode(payload: np.ndarray, n: int, out: Scratch) -> int:
    """Decompress the one LZ4 frame ``payload[:n]`` (uint8) into ``out.array``; returns
    its size.

    dv writes frames of linked 64 KB blocks without content size or checksums; the
    other frame options are read too (checksums are skipped, not verified)."""
    if not HAVE_LZ4_KERNEL:
        return lz4_frame_decode_blocks(memoryview(payload)[:n], out)
    status, value = lz4_frame(payload, n, out.array)
    if status == LZ4_NEED_ROOM:
        out.reserve(value)
        status, value = lz4_frame(payload, n, out.array)
    if status != LZ4_OK:
        raise PacketError(LZ4_ERRORS[status].format(value >> 8, value & 0xFF, value))
    return int(value)


def lz4_frame_decode_blocks(payload: memoryview, out: Scratch) -> int:
    """:func:`lz4_frame_decode` in Python, block by block through ``lz4.block``."""
    stop = len(payload)
    if stop < 7 or _U32.unpack_from(payload, 0)[0] != _LZ4_MAGIC:
        raise PacketError("LZ4 frame lacks its magic number")
    flg, bd = payload[4], payload[5]
    size_code = (bd >> 4) & 7
    if flg >> 6 != 1 or flg & 0x03 or bd & 0x8F or size_code < 4:
        raise PacketError(f"LZ4 frame descriptor is invalid (FLG {flg:#04x}, BD {bd:#04x})")
    block_max = 1 << (8 + 2 * size_code)
    linked = not (flg >> 5) & 1
    block_checksum = 4 if (flg >> 4) & 1 else 0
    ip = 7 + (8 if (flg >> 3) & 1 else 0)
    op = 0
    view = out.reserve(block_max)
    while True:
        if stop - ip < 4:
            raise PacketError("LZ4 frame is truncated (no end mark)")
        (word,) = _U32.unpack_from(payload, ip)
        ip += 4
        if word == 0:
            break
        size = word & 0x7FFFFFFF
        if size > block_max or size + block_checksum > stop - ip:
            raise PacketError(f"LZ4 block of {size} bytes does not fit its frame")
        view = out.reserve(op + block_max, keep=op)
        if word & 0x80000000:  # stored uncompressed
            view[op:op + size] = payload[ip:ip + size]
            op += size
        else:
            try:
                if linked and op:
                    block = lz4.block.decompress(payload[ip:ip + size], uncompressed_size=block_max,
                                                 dict=view[max(0, op - _LZ4_WINDOW):op])
                else:
                    block = lz4.block.decompress(payload[ip:ip + size], uncompressed_size=block_max)
            except lz4.block.LZ4BlockError:
                raise PacketError("LZ4 block is corrupt") from None
            view[op:op + len(block)] = block
            op += len(block)
        ip += size + block_checksum
    ip += 4 if (flg >> 2) & 1 else 0  # content checksum
    if ip != stop:
        raise PacketError("LZ4 frame is truncated" if ip > stop else "bytes follow the LZ4 frame's end")
    return op


