"""Recogniser defaults that command-line parsers need, without importing torch or
open_clip: building ``--help`` must not cost the seconds those imports take."""
from __future__ import annotations

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")

#: open_clip's name suffix for towers built with QuickGELU (OpenAI's activation)
QUICKGELU_SUFFIX = "-quickgelu"
