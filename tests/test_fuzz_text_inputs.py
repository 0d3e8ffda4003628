"""The text inputs, fuzzed through their entry points: TOML configs, label files, model
registries and weight sidecars end in success or in the project's one-line error,
never another exception, a hang or unbounded memory (generators: tests/fuzz_structured.py,
the long run: benchmarks/fuzz_long.py --inputs text)."""
from __future__ import annotations

import collections
import resource
import signal
from pathlib import Path

import pytest

from ezsr_live.errors import EzsrError, ModelError
from ezsr_live.model.vocabulary import read_label_entries
from tests.fuzz_structured import KINDS, make_case, run_case

CASES_PER_KIND = 80
#: a case that runs longer than this is a hang (a watchdog, not a timing assertion)
CASE_WATCHDOG_S = 60


def _alarm(signum: int, frame: object) -> None:
    raise TimeoutError("a fuzz case hung")


@pytest.mark.parametrize("kind", KINDS)
def test_mutated_text_inputs_end_in_success_or_one_project_error(tmp_path: Path, kind: str) -> None:
    outcomes: collections.Counter[str] = collections.Counter()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        for seed in range(CASES_PER_KIND):
            signal.alarm(CASE_WATCHDOG_S)
            outcomes[run_case(kind, make_case(kind, seed), tmp_path)] += 1  # anything else escapes: a bug
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert sum(outcomes.values()) == CASES_PER_KIND
    assert outcomes["project_error"] > 0  # the mutations do reach the checks
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mib < 512, f"peak RSS grew by {grown_mib:.0f} MiB"


@pytest.mark.parametrize("kind", ["registry", "sidecar", "config"])
@pytest.mark.parametrize("data", [b"[" * 100_000, b'{"models": [' + b"[" * 100_000, b"a = " + b"[" * 100_000,
                                  b'{"input_size": 1' + b"0" * 5000 + b"}", b'"window-ms" = 1' + b"0" * 5000],
                         ids=["deep", "deep-inside", "deep-toml", "huge-int-json", "huge-int-toml"])
def test_deep_nesting_and_huge_numbers_are_one_line_errors(tmp_path: Path, kind: str, data: bytes) -> None:
    # the parsers raised RecursionError and the digit-limit ValueError, which escaped
    with pytest.raises(EzsrError) as err:
        run_case_raising(kind, data, tmp_path)
    assert "\n" not in str(err.value)


def run_case_raising(kind: str, data: bytes, folder: Path) -> None:
    from tests.fuzz_structured import _ENTRY

    _ENTRY[kind](data, folder)


def test_a_bom_is_not_part_of_the_first_label_nor_a_config_error(tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_bytes(b"\xef\xbb\xbfcircle\nsquare\n")  # as Notepad saves UTF-8
    assert read_label_entries(labels) == [("circle", True), ("square", True)]
    assert run_case("config", b'\xef\xbb\xbf"window-ms" = 30\n', tmp_path) == "ok"
    with pytest.raises(ModelError, match="registry must be an object"):
        run_case_raising("registry", b"\xef\xbb\xbf[]", tmp_path)
