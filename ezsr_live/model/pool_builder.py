"""Embedding a folder tree of images into a k-NN pool, resumably.

Images are embedded with the CLIP *image* tower (RGB), batched through a DataLoader,
shard by shard: each finished shard is saved under ``POOL/parts/`` so an interrupted
build resumes where it stopped. The first folder level under the image root becomes
the vector's label (ImageNet's ``train/n01440764/...`` layout); images directly in the
root have none. Undecodable images are skipped, counted and named in the log.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ezsr_live.fileio import atomic_path
from ezsr_live.errors import ModelError
from ezsr_live.model.clip_loader import ClipBundle
from ezsr_live.model.event_encoder import input_dtype
from ezsr_live.model.knn import Pool, create_pool

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"})
PARTS = "parts"


def list_images(root: str | os.PathLike) -> list[Path]:
    """Image files under ``root`` (recursively, by extension), sorted for a stable order."""
    root = Path(root)
    if not root.is_dir():
        raise ModelError(f"{root}: not a folder of images")
    found = [Path(dp) / f for dp, _, files in os.walk(root) for f in files
             if Path(f).suffix.lower() in IMAGE_EXTENSIONS]
    return sorted(found)


def folder_label(root: Path, path: Path) -> str | None:
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else None


class _ImageFiles(torch.utils.data.Dataset):
    def __init__(self, paths: list[Path], rows: range, preprocess: Callable[[Any], torch.Tensor]):
        self.paths = paths
        self.rows = rows
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[int, torch.Tensor | None]:
        from PIL import Image

        row = self.rows[i]
        try:
            with Image.open(self.paths[row]) as img:
                return row, self.preprocess(img.convert("RGB"))
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            log.warning("%s: skipped, not a decodable image (%s)", self.paths[row], exc)
            return row, None


def _collate(items: list[tuple[int, torch.Tensor | None]]) -> tuple[int, list[int], torch.Tensor | None]:
    """(items in the batch, rows decoded, their stacked tensors or None)."""
    ok = [(r, t) for r, t in items if t is not None]
    if not ok:
        return len(items), [], None
    return len(items), [r for r, _ in ok], torch.stack([t for _, t in ok])


def _plan_digest(root: Path, paths: list[Path], model_id: str, shard_size: int) -> str:
    h = hashlib.sha256(f"{model_id}\n{shard_size}\n".encode())
    for p in paths:
        h.update(str(p.relative_to(root)).encode("utf-8", "surrogateescape") + b"\n")
    return h.hexdigest()


def build_pool(
    image_dir: str | os.PathLike,
    out: str | os.PathLike,
    clip: ClipBundle,
    *,
    batch_size: int = 64,
    workers: int = 0,
    kind: str = "auto",
    with_labels: bool = True,
    shard_size: int = 4096,
    overwrite: bool = False,
    progress: bool = True,
    target_recall: float = 0.95,
) -> Pool:
    """Embed every image under ``image_dir`` and write a pool folder ``out``."""
    root, out = Path(image_dir), Path(out)
    if (out / "meta.json").exists() and not overwrite:
        raise ModelError(f"{out}: a pool already exists there (use --overwrite to replace it)")
    paths = list_images(root)
    if not paths:
        raise ModelError(f"{root}: no images found (extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})")
    parts = out / PARTS
    plan = {"model": clip.identity, "images": len(paths), "shard_size": shard_size,
            "digest": _plan_digest(root, paths, clip.identity, shard_size)}
    plan_file = parts / "plan.json"
    if plan_file.is_file():
        if json.loads(plan_file.read_text()) != plan:
            raise ModelError(f"{parts}: an unfinished build of other images or another model is there; "
                             f"remove that folder or choose another output")
        log.info("resuming the build in %s", parts)
    else:
        parts.mkdir(parents=True, exist_ok=True)
        plan_file.write_text(json.dumps(plan, indent=2))

    n_shards = (len(paths) + shard_size - 1) // shard_size
    dtype = input_dtype(clip.visual)
    from tqdm import tqdm

    bar = tqdm(total=len(paths), unit="img", desc="embedding", disable=not progress)
    for s in range(n_shards):
        shard_file = parts / f"part-{s:06d}.npz"
        rows = range(s * shard_size, min((s + 1) * shard_size, len(paths)))
        if shard_file.is_file():
            bar.update(len(rows))
            continue
        loader = torch.utils.data.DataLoader(_ImageFiles(paths, rows, clip.preprocess), batch_size=batch_size,
                                             num_workers=workers, collate_fn=_collate)
        kept_rows, vecs = [], []
        with torch.inference_mode():
            for n_items, batch_rows, images in loader:
                if images is not None:
                    emb = clip.clip.encode_image(images.to(clip.device, dtype))
                    vecs.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu().numpy())
                    kept_rows.extend(batch_rows)
                bar.update(n_items)
        dim = clip.embed_dim
        with atomic_path(shard_file) as tmp:
            np.savez(tmp, rows=np.asarray(kept_rows, dtype=np.int64),
                     vectors=np.concatenate(vecs) if vecs else np.zeros((0, dim), np.float32))
    bar.close()

    rows_l, vecs_l = [], []
    for s in range(n_shards):
        with np.load(parts / f"part-{s:06d}.npz") as z:
            rows_l.append(z["rows"])
            vecs_l.append(z["vectors"])
    rows_all = np.concatenate(rows_l)
    vectors = np.concatenate(vecs_l)
    if len(vectors) == 0:
        raise ModelError(f"{root}: none of the {len(paths)} images could be decoded")
    skipped = len(paths) - len(vectors)
    if skipped:
        log.warning("%d of %d images could not be decoded and were skipped", skipped, len(paths))
    label_names: list[str] = []
    label_ids = None
    if with_labels:
        labels = [folder_label(root, paths[r]) for r in rows_all]
        label_names = sorted({lb for lb in labels if lb is not None})
        lookup = {lb: i for i, lb in enumerate(label_names)}
        label_ids = np.array([lookup.get(lb, -1) if lb is not None else -1 for lb in labels], np.int32)
    pool = create_pool(out, vectors, clip.identity, kind=kind, source=str(root.resolve()),
                       label_names=label_names, label_ids=label_ids if label_names else None,
                       target_recall=target_recall)
    if skipped:
        pool.meta.extra["skipped_images"] = skipped
        from ezsr_live.model.knn import write_pool

        write_pool(out, pool.index, pool.meta, pool.label_ids)
    shutil.rmtree(parts, ignore_errors=True)
    return pool
