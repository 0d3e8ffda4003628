"""Recogniser defaults that command-line parsers need, without importing torch or
open_clip: building ``--help`` must not cost the seconds those imports take."""
from __future__ import annotations

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")

#: k-NN translation: neighbours, softmax temperature over their similarities, and the
#: weight of the event embedding itself against the neighbours' mean
KNN_K = 16
KNN_TAU = 0.05
KNN_ALPHA = 0.5

#: open_clip's name suffix for towers built with QuickGELU (OpenAI's activation)
QUICKGELU_SUFFIX = "-quickgelu"
