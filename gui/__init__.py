"""The live window (PySide6 + pyqtgraph): event view, top-k overlay, label editor.

Qt lives only in this package; it talks to the engine through the public API of
:class:`ezsr_live.runtime.pipeline.Pipeline`. Entry point: :func:`ezsr_live.gui.app.run_app`.
"""
