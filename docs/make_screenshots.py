"""Regenerate the README's screenshot of the window with a region of interest and the
event-rate plot: the 1280x720 sample replayed in a loop, offscreen, with the tiny test
model (random weights: the labels mean nothing; the picture shows the window).

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py [--samples DIR] [--out docs/screenshot_roi_rates.png]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = "evt3_gen41_1280x720.raw"
ROI = "400,180,420,330"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default=os.environ.get("EZSR_SAMPLES", str(ROOT.parent / "shared" / "samples")))
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot_roi_rates.png"))
    parser.add_argument("--seconds", type=float, default=6.0, help="run this long before the grab")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings, QTimer

    from ezsr_live.cli.live import build_parser, build_run
    from ezsr_live.gui.app import application
    from ezsr_live.gui.main_window import MainWindow

    app = application()
    with tempfile.TemporaryDirectory() as settings:  # never the user's remembered settings
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings)
        run_args = build_parser().parse_args([
            "--replay", str(Path(args.samples) / SAMPLE), "--loop", "--model", "ezsr-test-tiny",
            "--model-config", str(ROOT / "ezsr_live" / "model" / "configs" / "ezsr-test-tiny.json"),
            "--pretrained", "", "--templates", "photo", "--device", "cpu", "--top-k", "4",
            "--labels", "car,pedestrian,cyclist,truck,tree", "--window-events", "60000", "--roi", ROI])
        run = build_run(run_args)
        window = MainWindow(run.pipeline)
        window.resize(1280, 900)
        window.rate_dock.show()
        window.show()
        window.start()
        saved: list[bool] = []

        def grab() -> None:
            window.refresh_status()
            window.rate_dock.refresh()
            saved.append(window.grab().save(args.out, "PNG"))
            window.close()

        QTimer.singleShot(int(args.seconds * 1000), grab)
        app.exec()
        window.shutdown()
        run.close()
    if not saved or not saved[0]:
        print(f"make_screenshots: could not write {args.out}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
