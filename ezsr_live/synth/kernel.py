"""The per-pixel event generation kernel (an ideal DVS pixel model, as in ESIM/v2e).

Each pixel keeps a reference log intensity. Between two rendered frames the log
intensity is taken to change linearly; every time it has moved by the pixel's ON (or
OFF) contrast threshold from the reference, an event is emitted at the interpolated
crossing time and the reference moves by one threshold. A change spanning several
thresholds gives several events. With a refractory period, a crossing closer than
``refractory_us`` to the pixel's previous event moves the reference but emits nothing
(the pixel is blind, not lagging).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def emit_events(log_frames, times_us, c_on, c_off, refractory_us, out_t, out_x, out_y, out_p):
    """Fill ``out_*`` (pixel-major order) and return how many events there are in total.

    Events beyond the capacity of ``out_*`` are counted but not written, so the caller
    can retry with larger buffers; the kernel never writes out of bounds. Non-finite
    log intensities emit nothing.
    """
    n_frames, height, width = log_frames.shape
    capacity = out_t.size
    n = 0
    for y in range(height):
        for x in range(width):
            th_on = c_on[y, x]
            th_off = c_off[y, x]
            ref = log_frames[0, y, x]
            last_t = -1.0e300
            if not np.isfinite(ref) or th_on <= 0 or th_off <= 0:
                continue
            for k in range(1, n_frames):
                a = log_frames[k - 1, y, x]
                b = log_frames[k, y, x]
                if not np.isfinite(b):
                    break
                slope = b - a
                if slope == 0.0:
                    continue
                t0 = times_us[k - 1]
                dt = times_us[k] - t0
                while True:
                    if b - ref >= th_on:
                        level = ref + th_on
                        polarity = 1
                    elif ref - b >= th_off:
                        level = ref - th_off
                        polarity = 0
                    else:
                        break
                    ref = level
                    # crossing time of the linear segment a -> b through ``level``
                    w = (level - a) / slope
                    w = min(max(w, 0.0), 1.0)
                    t = t0 + w * dt
                    if t - last_t < refractory_us:
                        continue
                    last_t = t
                    if n < capacity:
                        out_t[n] = np.int64(np.rint(t))
                        out_x[n] = x
                        out_y[n] = y
                        out_p[n] = polarity
                    n += 1
    return n
