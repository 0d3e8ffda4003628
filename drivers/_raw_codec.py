"""Numba kernels that decode and encode Prophesee RAW event words (EVT 2.0, 2.1, 3.0).

The kernels are pure functions over arrays. Everything a decoder must remember between
two blocks of words (time base, wrap count, EVT 3.0 row / vector base / polarity, the
drop counters) lives in a small ``int64`` *state* array (see the ``ST_*`` indices), so a
file is decoded block by block in bounded memory and the result never depends on where
the blocks were cut.

Word layouts (little-endian, type in the 4 most significant bits):

EVT 3.0, 16-bit words::

    0x0 ADDR_Y      [10:0] y                       (bit 11: master/slave, ignored)
    0x2 ADDR_X      [11] polarity, [10:0] x        -> one CD event
    0x3 VECT_BASE_X [11] polarity, [10:0] base x
    0x4 VECT_12     [11:0] valid mask              -> events at base x + k; base x += 12
    0x5 VECT_8      [7:0]  valid mask              -> events at base x + k; base x += 8
    0x6 TIME_LOW    [11:0] time bits 11..0
    0x8 TIME_HIGH   [11:0] time bits 23..12        (low bits are kept)
    0xA EXT_TRIGGER [11:8] channel id, [0] value

EVT 2.0, 32-bit words::

    0x0 CD_OFF / 0x1 CD_ON  [27:22] time bits 5..0, [21:11] x, [10:0] y
    0x8 TIME_HIGH           [27:0]  time bits 33..6
    0xA EXT_TRIGGER         [27:22] time bits 5..0, [12:8] channel id, [0] value

EVT 2.1, 64-bit words: one 32-bit *head* laid out as EVT 2.0 (the CD head carries the
base x of a group of 32 pixels) plus a 32-bit valid mask, event k at base x + k. In the
"legacy" layout (``% evt 2.1`` headers, ``endianness=legacy``) the head is the first
(lower) 32-bit half; otherwise the word is one little-endian 64-bit integer with the
head in the upper half.

Time wrap, as OpenEB's decoders read it: an EVT 3.0 TIME_HIGH lower than the previous one
by at least 2,048 units (half the 12-bit range) counts one wrap of the 2^24 µs counter;
an EVT 2.x TIME_HIGH lower than the previous one by at least the full 2^34 µs range less
10,000 µs counts one wrap of the 2^34 µs counter. Smaller drops are taken as written (the
time steps back). After an EVT 3.0 TIME_HIGH that changes the high bits, the low 12 bits
are zero until the next TIME_LOW (OpenEB clears them). The thresholds in TIME_HIGH units
are :data:`EVT3_WRAP_DROP` and :data:`EVT2_WRAP_DROP`.

Decoders drop, and count in the state array: CD events before the first TIME_HIGH,
events whose coordinates fall outside the geometry (never written), and words of an
unknown or unsupported type (OTHERS, CONTINUED, IMU, reserved codes). They stop as soon
as the event output holds ``limit`` events or the trigger output is full, so the
output buffers need ``limit + MAX_EVENTS_PER_WORD`` rows at most.

Encoders emit plain words (EVT 3.0: TIME_HIGH, TIME_LOW, ADDR_Y, ADDR_X; EVT 2.0:
TIME_HIGH, CD words; no vector words), in the order given, whatever the time order,
for times relative to a ``t_origin`` that decoders add back. TIME_HIGH words are
chosen so that every conforming reader reads back exactly the intended absolute value,
whichever wrap threshold it uses (OpenEB's decoders above, and Prophesee's sample
decoders, which need a drop of nearly the whole range): a wrap is always written as a
drop from the top of the range to (near) zero, a step back never drops by as much as
half the range, and a TIME_LOW follows every TIME_HIGH (see :func:`_next_time_high`). Encoders stop when the output buffer cannot take the next
event's words and return where they stopped; all encoder state is in the state array,
so the caller just flushes and calls again.
"""
from __future__ import annotations

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

# -- decoder state indices ------------------------------------------------------------
ST_HAVE_TIME_HIGH = 0  # 1 once the first TIME_HIGH was seen
ST_TIME = 1  # current absolute time, µs (wraps included)
ST_PREV_TIME_HIGH = 2  # payload of the previous TIME_HIGH word
ST_WRAPS = 3  # number of time-counter wraps so far
ST_Y = 4  # EVT 3.0 current row
ST_BASE_X = 5  # EVT 3.0 vector base column
ST_POLARITY = 6  # EVT 3.0 vector polarity
ST_OUT_OF_BOUNDS = 7
ST_UNKNOWN_WORDS = 8
ST_BEFORE_FIRST_TIME_HIGH = 9
DECODER_STATE_SIZE = 10

# -- encoder state indices ------------------------------------------------------------
EST_HAVE_TIME_HIGH = 0  # 1 once a TIME_HIGH was written
EST_HIGH = 1  # absolute time >> low_bits of the last TIME_HIGH written (wraps included)
EST_LOW = 2  # EVT 3.0 last TIME_LOW written, -1 = must write one
EST_Y = 3  # EVT 3.0 last ADDR_Y written, -1 = none yet
ENCODER_STATE_SIZE = 4

# encoder status codes (returned as the third value)
ENC_OK = 0
ENC_OUTPUT_FULL = 1
ENC_TIME_EPOCH_BACKWARDS = 2  # time went back into an earlier wrap period: not representable
ENC_TOO_FAR_AHEAD = 3  # a forward jump needing more than MAX_TIME_HIGH_WALK TIME_HIGH words

#: bound on a forward jump to one event, in half wrap periods (an encoder writes at most
#: two TIME_HIGH words per period): 2^43 µs (~100 days) for EVT 3.0, 2^53 µs for EVT 2.0
MAX_TIME_HIGH_WALK = 1 << 20

EVT3_HIGH_BITS = 12  # TIME_HIGH payload width
EVT3_LOW_BITS = 12  # TIME_LOW payload width: time high unit = 4096 µs
EVT2_HIGH_BITS = 28
EVT2_LOW_BITS = 6  # time high unit = 64 µs

#: smallest TIME_HIGH drop (in TIME_HIGH units) that OpenEB's decoders read as a wrap:
#: EVT 3.0 half the 12-bit range; EVT 2.x the 2^34 µs range less 10,000 µs
EVT3_WRAP_DROP = 1 << (EVT3_HIGH_BITS - 1)
EVT2_WRAP_DROP = -((10_000 - (((1 << EVT2_HIGH_BITS) - 1) << EVT2_LOW_BITS)) >> EVT2_LOW_BITS)
#: what the encoders write, so that every conforming reader agrees: a wrap is a drop of at
#: least this much (Prophesee's sample decoders want the range less 10 units), ...
EVT3_WRITE_WRAP_DROP = (1 << EVT3_HIGH_BITS) - 1 - 10
EVT2_WRITE_WRAP_DROP = (1 << EVT2_HIGH_BITS) - 1 - 10
#: ... and a step back is at most this much (below every reader's wrap threshold)
EVT3_WRITE_MAX_BACK = EVT3_WRAP_DROP - 1
EVT2_WRITE_MAX_BACK = EVT2_WRAP_DROP - 1

#: most CD events one word can carry (EVT 3.0 VECT_12, EVT 2.1 32-bit mask)
EVT3_MAX_EVENTS_PER_WORD = 12
EVT2_MAX_EVENTS_PER_WORD = 1
EVT21_MAX_EVENTS_PER_WORD = 32

#: worst-case words an encoder writes for one event once its TIME_HIGH is settled
_EVT3_WORDS_PER_EVENT = 3
_EVT2_WORDS_PER_EVENT = 1


def new_decoder_state() -> np.ndarray:
    """State of a decoder at the start of a file."""
    return np.zeros(DECODER_STATE_SIZE, np.int64)


def new_encoder_state() -> np.ndarray:
    """State of an encoder at the start of a file (nothing written yet)."""
    state = np.zeros(ENCODER_STATE_SIZE, np.int64)
    state[EST_LOW] = -1
    state[EST_Y] = -1
    return state


# ======================================================================================
# decoders
# ======================================================================================


@njit(nogil=True, cache=True, inline="always")
def _on_time_high(state, payload, high_bits, low_bits, wrap_drop, clear_low):
    """Apply a TIME_HIGH payload: unwrap and set the high part of the current time;
    ``clear_low``: a changed TIME_HIGH zeroes the low bits (EVT 3.0, as OpenEB)."""
    keep_low = True
    if state[ST_HAVE_TIME_HIGH]:
        if state[ST_PREV_TIME_HIGH] - payload >= wrap_drop:
            state[ST_WRAPS] += 1
        keep_low = not clear_low or state[ST_PREV_TIME_HIGH] == payload
    else:
        state[ST_HAVE_TIME_HIGH] = 1
    state[ST_PREV_TIME_HIGH] = payload
    low_mask = (np.int64(1) << low_bits) - 1
    low = state[ST_TIME] & low_mask if keep_low else np.int64(0)
    state[ST_TIME] = (state[ST_WRAPS] << (high_bits + low_bits)) | (payload << low_bits) | low


@njit(nogil=True, cache=True)
def decode_evt3(words, start, out, n_out, limit, triggers, n_triggers, width, height, t_origin, state):  # noqa: C901 - one Numba loop dispatching on the word type; helpers would cost a call per word
    """Decode EVT 3.0 words from ``words[start:]`` into ``out[n_out:]`` / ``triggers[n_triggers:]``,
    adding ``t_origin`` (µs) to every decoded time.

    Stops at the end of ``words``, once ``n_out >= limit`` or once ``triggers`` is full.
    ``out`` must have at least ``limit + EVT3_MAX_EVENTS_PER_WORD`` rows.
    Returns ``(next_word, n_out, n_triggers)``.
    """
    n_words = words.shape[0]
    trig_cap = triggers.shape[0]
    have_th = state[ST_HAVE_TIME_HIGH]
    t = state[ST_TIME]
    y = state[ST_Y]
    base_x = state[ST_BASE_X]
    pol = state[ST_POLARITY]
    oob = state[ST_OUT_OF_BOUNDS]
    unknown = state[ST_UNKNOWN_WORDS]
    before = state[ST_BEFORE_FIRST_TIME_HIGH]
    i = start
    while i < n_words and n_out < limit and n_triggers < trig_cap:
        w = np.int64(words[i])
        i += 1
        kind = w >> 12
        if (kind | 0x2) == 0x2:
            # ADDR_X (0x2) or ADDR_Y (0x0), most words, in no predictable order: handled
            # without branches: the slot is written either way and kept for valid ADDR_X
            is_x = kind >> 1
            value = w & 0x7FF
            y += (value - y) * (1 - is_x)
            ev = out[n_out]
            ev["t"] = t + t_origin
            ev["x"] = value
            ev["y"] = y
            ev["p"] = (w >> 11) & 1
            inside = np.int64(value < width) & np.int64(y < height)
            counted = is_x & have_th
            n_out += counted & inside
            oob += counted & (1 - inside)
            before += is_x & (1 - have_th)
        elif kind == 0x6:  # TIME_LOW
            t = (t & ~np.int64(0xFFF)) | (w & 0xFFF)
        elif kind == 0x4 or kind == 0x5:  # VECT_12 / VECT_8
            n_bits = 12 if kind == 0x4 else 8
            mask = w & ((1 << n_bits) - 1)
            if not have_th:
                while mask:
                    before += mask & 1
                    mask >>= 1
            elif y >= height:
                while mask:
                    oob += mask & 1
                    mask >>= 1
            else:
                # camera masks are sparse (under one bit set in 12): visit only the set bits
                while mask:
                    x = base_x + trailing_zeros(mask)
                    mask &= mask - 1
                    if x < width:
                        ev = out[n_out]
                        ev["t"] = t + t_origin
                        ev["x"] = x
                        ev["y"] = y
                        ev["p"] = pol
                        n_out += 1
                    else:
                        oob += 1
            base_x += n_bits
        elif kind == 0x3:  # VECT_BASE_X
            base_x = w & 0x7FF
            pol = (w >> 11) & 1
        elif kind == 0x8:  # TIME_HIGH
            state[ST_TIME] = t
            _on_time_high(state, w & 0xFFF, EVT3_HIGH_BITS, EVT3_LOW_BITS, EVT3_WRAP_DROP, True)
            have_th = 1
            t = state[ST_TIME]
        elif kind == 0xA:  # EXT_TRIGGER
            if have_th:
                tr = triggers[n_triggers]
                tr["t"] = t + t_origin
                tr["id"] = (w >> 8) & 0xF
                tr["p"] = w & 1
                n_triggers += 1
        else:  # CONTINUED_4/12, OTHERS, IMU, reserved codes
            unknown += 1
    state[ST_TIME] = t
    state[ST_Y] = y
    state[ST_BASE_X] = base_x
    state[ST_POLARITY] = pol
    state[ST_OUT_OF_BOUNDS] = oob
    state[ST_UNKNOWN_WORDS] = unknown
    state[ST_BEFORE_FIRST_TIME_HIGH] = before
    return i, n_out, n_triggers


@njit(nogil=True, cache=True, inline="always")
def _evt2_head(state, head, valid, out, n_out, triggers, n_triggers, width, height, t_origin):
    """Decode one EVT 2.x head word (with its valid mask; 1 for EVT 2.0).

    Returns ``(n_out, n_triggers)``; counters are updated in ``state``.
    """
    kind = head >> 28
    if kind <= 1:  # CD_OFF / CD_ON
        if not state[ST_HAVE_TIME_HIGH]:
            while valid:
                state[ST_BEFORE_FIRST_TIME_HIGH] += valid & 1
                valid >>= 1
            return n_out, n_triggers
        t = (state[ST_TIME] & ~np.int64(63)) | ((head >> 22) & 63)
        state[ST_TIME] = t
        x0 = (head >> 11) & 0x7FF
        y = head & 0x7FF
        if y >= height:
            while valid:
                state[ST_OUT_OF_BOUNDS] += valid & 1
                valid >>= 1
            return n_out, n_triggers
        k = 0
        while valid:
            if valid & 1:
                x = x0 + k
                if x < width:
                    ev = out[n_out]
                    ev["t"] = t + t_origin
                    ev["x"] = x
                    ev["y"] = y
                    ev["p"] = kind
                    n_out += 1
                else:
                    state[ST_OUT_OF_BOUNDS] += 1
            valid >>= 1
            k += 1
    elif kind == 0x8:  # TIME_HIGH
        _on_time_high(state, head & 0xFFFFFFF, EVT2_HIGH_BITS, EVT2_LOW_BITS, EVT2_WRAP_DROP, False)
    elif kind == 0xA:  # EXT_TRIGGER
        if state[ST_HAVE_TIME_HIGH]:
            t = (state[ST_TIME] & ~np.int64(63)) | ((head >> 22) & 63)
            state[ST_TIME] = t
            tr = triggers[n_triggers]
            tr["t"] = t + t_origin
            tr["id"] = (head >> 8) & 0x1F
            tr["p"] = head & 1
            n_triggers += 1
    else:  # OTHERS, CONTINUED, reserved codes
        state[ST_UNKNOWN_WORDS] += 1
    return n_out, n_triggers


@njit(nogil=True, cache=True)
def decode_evt2(words, start, out, n_out, limit, triggers, n_triggers, width, height, t_origin, state):
    """Decode EVT 2.0 words (``uint32``); same contract as :func:`decode_evt3`.

    The CD path is inlined here rather than going through :func:`_evt2_head` because it
    is one event per word and dominates the decode time.
    """
    n_words = words.shape[0]
    trig_cap = triggers.shape[0]
    have_th = state[ST_HAVE_TIME_HIGH]
    high = state[ST_TIME] & ~np.int64(63)
    oob = state[ST_OUT_OF_BOUNDS]
    before = state[ST_BEFORE_FIRST_TIME_HIGH]
    i = start
    while i < n_words and n_out < limit and n_triggers < trig_cap:
        w = np.int64(words[i])
        i += 1
        kind = w >> 28
        if kind <= 1:
            if not have_th:
                before += 1
                continue
            x = (w >> 11) & 0x7FF
            y = w & 0x7FF
            if x < width and y < height:
                ev = out[n_out]
                ev["t"] = (high | ((w >> 22) & 63)) + t_origin
                ev["x"] = x
                ev["y"] = y
                ev["p"] = kind
                n_out += 1
            else:
                oob += 1
        else:
            state[ST_TIME] = high
            n_out, n_triggers = _evt2_head(
                state, w, np.int64(1), out, n_out, triggers, n_triggers, width, height, t_origin
            )
            have_th = state[ST_HAVE_TIME_HIGH]
            high = state[ST_TIME] & ~np.int64(63)
    state[ST_TIME] = high
    state[ST_OUT_OF_BOUNDS] = oob
    state[ST_BEFORE_FIRST_TIME_HIGH] = before
    return i, n_out, n_triggers


@njit(nogil=True, cache=True)
def decode_evt21(words, start, out, n_out, limit, triggers, n_triggers, width, height, legacy, t_origin, state):
    """Decode EVT 2.1 words (``uint64``); same contract as :func:`decode_evt3`, with
    ``out`` needing ``limit + EVT21_MAX_EVENTS_PER_WORD`` rows. ``legacy``: head in the
    lower 32 bits."""
    n_words = words.shape[0]
    trig_cap = triggers.shape[0]
    low32 = np.uint64(0xFFFFFFFF)
    i = start
    while i < n_words and n_out < limit and n_triggers < trig_cap:
        w = words[i]
        i += 1
        if legacy:
            head = np.int64(w & low32)
            valid = np.int64(w >> np.uint64(32))
        else:
            head = np.int64(w >> np.uint64(32))
            valid = np.int64(w & low32)
        n_out, n_triggers = _evt2_head(state, head, valid, out, n_out, triggers, n_triggers, width, height, t_origin)
    return i, n_out, n_triggers


# ======================================================================================
# encoders
# ======================================================================================


@njit(nogil=True, cache=True, inline="always")
def _next_time_high(current, target, high_bits, wrap_drop, max_back):
    """The next absolute TIME_HIGH value to write on the way from ``current`` to ``target``
    (both absolute: ``wraps << high_bits | payload``); -1 if ``target`` cannot be reached.

    Forward inside one wrap period: one word. Into a later period: a direct drop when it
    is at least ``wrap_drop`` (every reader counts it as one wrap), else first the top of
    the range, then payload 0 of the next period (a drop of the whole range), then on.
    Backward: steps of at most ``max_back`` (no reader counts a wrap); never into an
    earlier period, because a reader's wrap count never decreases.
    """
    period = np.int64(1) << high_bits
    top = period - 1
    cur_epoch = current >> high_bits
    tgt_epoch = target >> high_bits
    if target > current:
        if tgt_epoch == cur_epoch:
            return target
        if tgt_epoch == cur_epoch + 1 and (current & top) - (target & top) >= wrap_drop:
            return target
        if (current & top) != top:
            return (cur_epoch << high_bits) | top
        return (cur_epoch + 1) << high_bits
    if tgt_epoch != cur_epoch:
        return np.int64(-1)
    return max(target, current - max_back)


@njit(nogil=True, cache=True, inline="always")
def _time_high_word(value, high_bits):
    """TIME_HIGH word (type 0x8 above a ``high_bits`` payload) for an absolute value."""
    return (np.int64(0x8) << high_bits) | (value & ((np.int64(1) << high_bits) - 1))


@njit(nogil=True, cache=True)
def _walk_time_high(state, target, high_bits, wrap_drop, max_back, out, n_words, reserve):
    """Write the TIME_HIGH words that take the decoder from the state's time high to
    ``target``. Returns ``(n_words, status)``; after :data:`ENC_OUTPUT_FULL` a new call
    resumes the walk from the state. ``reserve`` words stay free for the event after."""
    cap = out.shape[0]
    if target < 0:  # before the file's time origin: an earlier wrap period
        return n_words, ENC_TIME_EPOCH_BACKWARDS
    if not state[EST_HAVE_TIME_HIGH]:
        if n_words + 1 + reserve > cap:
            return n_words, ENC_OUTPUT_FULL
        # the decoder starts in wrap period 0: begin there, then walk forward if needed
        first = target if target < (np.int64(1) << high_bits) else np.int64(0)
        out[n_words] = _time_high_word(first, high_bits)
        n_words += 1
        state[EST_HAVE_TIME_HIGH] = 1
        state[EST_HIGH] = first
        state[EST_LOW] = -1
    current = state[EST_HIGH]
    if target > current and (target - current) >> (high_bits - 1) > MAX_TIME_HIGH_WALK:
        return n_words, ENC_TOO_FAR_AHEAD
    while current != target:
        if n_words + 1 + reserve > cap:
            return n_words, ENC_OUTPUT_FULL
        current = _next_time_high(current, target, high_bits, wrap_drop, max_back)
        if current < 0:
            return n_words, ENC_TIME_EPOCH_BACKWARDS
        out[n_words] = _time_high_word(current, high_bits)
        n_words += 1
        state[EST_HIGH] = current
        # other decoders may clear the low bits on TIME_HIGH: always restate them
        state[EST_LOW] = -1
    return n_words, ENC_OK


@njit(nogil=True, cache=True)
def encode_evt3(t, x, y, p, is_trigger, start, t_origin, out, state):
    """Encode events ``start:`` (arrays t, x, y, p; for triggers x is the channel id) as
    EVT 3.0 words into ``out``, times relative to ``t_origin``.

    Returns ``(next_event, n_words, status)``; status is :data:`ENC_OK` (all done),
    :data:`ENC_OUTPUT_FULL` (flush ``out[:n_words]`` and call again from
    ``next_event``), or :data:`ENC_TIME_EPOCH_BACKWARDS` / :data:`ENC_TOO_FAR_AHEAD`
    (event ``next_event`` cannot be represented; ``out[:n_words]`` is still valid).
    """
    n = t.shape[0]
    cap = out.shape[0]
    n_words = 0
    i = start
    while i < n:
        ti = np.int64(t[i]) - t_origin
        n_words, status = _walk_time_high(
            state, ti >> EVT3_LOW_BITS, EVT3_HIGH_BITS, EVT3_WRITE_WRAP_DROP, EVT3_WRITE_MAX_BACK, out, n_words,
            _EVT3_WORDS_PER_EVENT
        )
        if status != ENC_OK:
            return i, n_words, status
        if n_words + _EVT3_WORDS_PER_EVENT > cap:
            return i, n_words, ENC_OUTPUT_FULL
        low = ti & 0xFFF
        if low != state[EST_LOW]:
            out[n_words] = 0x6000 | low
            n_words += 1
            state[EST_LOW] = low
        if is_trigger:
            out[n_words] = 0xA000 | ((np.int64(x[i]) & 0xF) << 8) | (np.int64(p[i]) & 1)
            n_words += 1
        else:
            yi = np.int64(y[i])
            if yi != state[EST_Y]:
                out[n_words] = yi & 0x7FF
                n_words += 1
                state[EST_Y] = yi
            out[n_words] = 0x2000 | ((np.int64(p[i]) & 1) << 11) | (np.int64(x[i]) & 0x7FF)
            n_words += 1
        i += 1
    return i, n_words, ENC_OK


@njit(nogil=True, cache=True)
def encode_evt2(t, x, y, p, is_trigger, start, t_origin, out, state):
    """Encode events as EVT 2.0 words; same contract as :func:`encode_evt3`."""
    n = t.shape[0]
    cap = out.shape[0]
    n_words = 0
    i = start
    while i < n:
        ti = np.int64(t[i]) - t_origin
        n_words, status = _walk_time_high(
            state, ti >> EVT2_LOW_BITS, EVT2_HIGH_BITS, EVT2_WRITE_WRAP_DROP, EVT2_WRITE_MAX_BACK, out, n_words,
            _EVT2_WORDS_PER_EVENT
        )
        if status != ENC_OK:
            return i, n_words, status
        if n_words + _EVT2_WORDS_PER_EVENT > cap:
            return i, n_words, ENC_OUTPUT_FULL
        low = ti & 63
        if is_trigger:
            word = (0xA << 28) | (low << 22) | ((np.int64(x[i]) & 0x1F) << 8) | (np.int64(p[i]) & 1)
        else:
            xy = ((np.int64(x[i]) & 0x7FF) << 11) | (np.int64(y[i]) & 0x7FF)
            word = ((np.int64(p[i]) & 1) << 28) | (low << 22) | xy
        out[n_words] = word
        n_words += 1
        i += 1
    return i, n_words, ENC_OK
