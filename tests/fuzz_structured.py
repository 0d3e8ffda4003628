"""Structure-aware fuzzing of the text inputs: TOML configs (``ezsr-live --config``),
label files (``--labels``, the window's Load), model registries (``registry.json``)
and weight sidecars (``NAME.json`` beside ``NAME.safetensors``).

Each case starts from a real document (the shipped registry, the demo's sidecar,
labels and a config using every kind of option), mutates its structure (a value of
another type, a key removed or added, huge/NaN/negative numbers, deep nesting, huge
strings, NUL bytes) and then its bytes (a BOM, invalid UTF-8, NULs, a cut), and runs
it through the entry point the program uses. :func:`run_case` returns ``"ok"`` or
``"project_error"`` (an EzsrError, or argparse's own refusal of a config value) and
lets anything else escape: that is a bug. Shared by tests/test_fuzz_text_inputs.py
and benchmarks/fuzz_long.py.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
KINDS = ("config", "labels", "registry", "sidecar")

#: a config using options of every kind: numbers, strings, flags, choices
BASE_CONFIG: dict[str, Any] = {
    "window-ms": 30, "top-k": 5, "labels": "cat,dog", "headless": True, "device": "cpu",
    "max-results": 10, "speed": 2.0, "loop": False, "knn-k": 16, "duration-s": 1.5,
}


def _base(kind: str) -> Any:
    if kind == "config":
        return copy.deepcopy(BASE_CONFIG)
    if kind == "registry":
        return json.loads((REPO / "weights" / "registry.json").read_text())
    if kind == "sidecar":
        return json.loads((REPO / "weights" / "demo" / "ezsr-demo-event.json").read_text())
    return (REPO / "weights" / "demo" / "labels.txt").read_text().splitlines()


def _strange_value(rng: np.random.Generator) -> Any:
    choices: list[Callable[[], Any]] = [
        lambda: None, lambda: True, lambda: 0, lambda: -1, lambda: -(2 ** 63), lambda: 2 ** 64 + 1,
        lambda: 10 ** int(rng.integers(20, 400)), lambda: math.nan, lambda: math.inf, lambda: -math.inf,
        lambda: 1e300, lambda: -0.0, lambda: "", lambda: "abc", lambda: "../../../etc/passwd", lambda: "/etc/passwd",
        lambda: "x" * int(rng.integers(1, 1 << 20)), lambda: "a\x00b", lambda: "\ufeffname", lambda: "\u202e\u0301",
        lambda: [], lambda: [64], lambda: [1, "a", None], lambda: {}, lambda: {"events": -5}, lambda: {"ms": math.nan},
        lambda: "64", lambda: 64.5, lambda: "1e309", lambda: "nan",
    ]
    return choices[int(rng.integers(0, len(choices)))]()


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _containers(doc: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every dict and list in ``doc``."""
    out = []
    if isinstance(doc, (dict, list)):
        out.append(path)
        items = doc.items() if isinstance(doc, dict) else enumerate(doc)
        for k, v in items:
            out.extend(_containers(v, (*path, k)))
    return out


def _at(doc: Any, path: tuple) -> Any:
    for k in path:
        doc = doc[k]
    return doc


def mutate_structure(doc: Any, rng: np.random.Generator) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(int(rng.integers(1, 4))):
        paths = _containers(doc)
        if not paths:
            return _strange_value(rng)
        target = _at(doc, paths[int(rng.integers(0, len(paths)))])
        keys = list(target.keys()) if isinstance(target, dict) else list(range(len(target)))
        op = int(rng.integers(0, 5))
        if op == 0 and keys:  # a value of another kind
            target[keys[int(rng.integers(0, len(keys)))]] = _strange_value(rng)
        elif op == 1 and keys:  # a key or item removed
            del target[keys[int(rng.integers(0, len(keys)))]]
        elif op == 2:  # an extra key or item
            if isinstance(target, dict):
                target[f"extra{int(rng.integers(0, 99))}"] = _strange_value(rng)
            else:
                target.append(_strange_value(rng))
        elif op == 3 and keys:  # deep nesting
            target[keys[int(rng.integers(0, len(keys)))]] = _nested(int(rng.integers(50, 300)))
        elif keys:  # the same item twice
            if isinstance(target, list):
                target.append(copy.deepcopy(target[keys[int(rng.integers(0, len(keys)))]]))
            else:
                target[keys[int(rng.integers(0, len(keys)))]] = copy.deepcopy(target)
    return doc


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)  # a TOML basic string for what json escapes
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return '""'  # None: TOML has no null


def serialize(kind: str, doc: Any) -> bytes:
    try:
        return _serialize(kind, doc)
    except RecursionError:  # nested deeper than this writer goes: as deep as a parser may see
        return b"a = " + b"[" * 5000 + b"]" * 5000 if kind == "config" else b"[" * 5000 + b"]" * 5000


def _serialize(kind: str, doc: Any) -> bytes:
    if kind == "config":
        if not isinstance(doc, dict):
            return _toml_value(doc).encode("utf-8", "surrogatepass")
        return "".join(f"{json.dumps(str(k))} = {_toml_value(v)}\n" for k, v in doc.items()).encode("utf-8", "surrogatepass")
    if kind == "labels":
        lines = doc if isinstance(doc, list) else [doc]
        return "\n".join(str(x) for x in lines).encode("utf-8", "surrogatepass")
    try:
        return json.dumps(doc, allow_nan=True).encode()
    except (RecursionError, ValueError):  # deeper than json.dumps goes, or a huge int: write it by hand
        return ("[" * 5000 + "]" * 5000).encode()


def mutate_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    op = int(rng.integers(0, 8))
    buf = bytearray(data)
    i = int(rng.integers(0, len(buf) + 1))
    if op == 0:
        return b"\xef\xbb\xbf" + data  # a UTF-8 BOM
    if op == 1:
        buf[i:i] = bytes([int(rng.integers(0x80, 0x100))])  # invalid UTF-8
    elif op == 2:
        buf[i:i] = b"\x00"
    elif op == 3:
        return data[:i]
    elif op == 4:
        buf[i:i] = b"[" * int(rng.integers(1000, 200_000))  # nesting deeper than any parser recurses
    elif op == 5:
        return b"\xff\xfe" + data.decode("utf-8", "replace").encode("utf-16-le")
    return bytes(buf)  # op 6, 7: the structural mutation alone


def make_case(kind: str, seed: int) -> bytes:
    rng = np.random.default_rng([seed, KINDS.index(kind), 20261201])
    doc = _base(kind)
    if rng.random() < 0.9:
        doc = mutate_structure(doc, rng)
    data = serialize(kind, doc)
    return mutate_bytes(data, rng) if rng.random() < 0.5 else data


def run_case(kind: str, data: bytes, folder: Path) -> str:
    """Feed one case to the program's own entry point for ``kind``."""
    from ezsr_live.errors import EzsrError

    try:
        _ENTRY[kind](data, folder)
    except EzsrError:
        return "project_error"
    except SystemExit as exc:  # argparse's refusal of a bad config value: usage + one error line
        if exc.code != 2:
            raise
        return "project_error"
    return "ok"


def _config(data: bytes, folder: Path) -> None:
    from ezsr_live.cli.config import apply_config_file
    from ezsr_live.cli.live import build_parser

    path = folder / "case.toml"
    path.write_bytes(data)
    parser = build_parser()
    argv = ["--config", str(path), "--replay", "x.raw"]
    apply_config_file(parser, argv)
    with contextlib.redirect_stderr(io.StringIO()):
        parser.parse_args(argv)


def _labels(data: bytes, folder: Path) -> None:
    from ezsr_live.model.vocabulary import parse_labels, read_label_entries

    path = folder / "labels.txt"
    path.write_bytes(data)
    read_label_entries(path)  # the window's Load
    parse_labels(str(path))  # --labels FILE


def _registry(data: bytes, folder: Path) -> None:
    from ezsr_live.model.registry import default_model, load_registry, spec_for_weights_file, verify_event_weights

    path = folder / "registry.json"
    path.write_bytes(data)
    specs = load_registry(path)
    default_model(specs=specs)
    spec_for_weights_file("EZSR-OPENAI-VITB16.pt", specs=specs)
    for spec in specs.values():
        verify_event_weights(spec)
        spec.labels_arg, spec.templates_arg, spec.knn_pool_path  # noqa: B018 - resolves paths


def _sidecar(data: bytes, folder: Path) -> None:
    from ezsr_live.model.event_encoder import read_event_weights, read_sidecar_meta

    weights = folder / "case.safetensors"
    if not weights.exists():
        import torch
        from safetensors.torch import save_file

        save_file({"w": torch.zeros(2)}, str(weights))
    (folder / "case.json").write_bytes(data)
    read_sidecar_meta(weights)
    read_event_weights(weights)


_ENTRY: dict[str, Callable[[bytes, Path], None]] = {
    "config": _config, "labels": _labels, "registry": _registry, "sidecar": _sidecar,
}
