"""The image files of a training folder (no torch here: ``ezsr synth IMAGE_DIR`` and its
worker processes list images without loading it)."""
from __future__ import annotations

import os
from pathlib import Path

from ezsr_live.errors import EzsrError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jpe")


def find_images(root: str | os.PathLike) -> list[Path]:
    """Every image under ``root`` (an ImageNet-style tree of class folders or a flat
    folder), sorted by path so that every rank and every run sees the same list."""
    root = Path(root)
    if not root.is_dir():
        raise EzsrError(f"{root}: image folder not found")
    found = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not found:
        raise EzsrError(f"{root}: no images ({', '.join(IMAGE_EXTENSIONS)}) found")
    return found
