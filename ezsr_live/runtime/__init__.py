"""The live runtime: everything between a running source and the newest result.

* :mod:`~ezsr_live.runtime.pipeline` - the source thread and the inference worker
* :mod:`~ezsr_live.runtime.ring` - the ring buffer the worker cuts windows from
* :mod:`~ezsr_live.runtime.handover` - bounded hand-overs between threads
* :mod:`~ezsr_live.runtime.metrics` - one :class:`Result` per recognition, percentiles
* :mod:`~ezsr_live.runtime.settings` - what may change while running
* :mod:`~ezsr_live.runtime.recorder` - taping what a source delivers to a file
* :mod:`~ezsr_live.runtime.live` - building a whole live run from one options object

Submodules are imported on use: ``import ezsr_live.runtime`` loads neither torch nor Numba.
"""
