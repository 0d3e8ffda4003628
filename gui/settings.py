"""Where the window remembers its geometry and the last vocabulary (QSettings, INI format)."""
from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANIZATION = "ezsr-live"
APPLICATION = "ezsr-live"

KEY_GEOMETRY = "window/geometry"
#: the window of several streams: its own size and place (its tabs' controls: persistence.stream_prefix)
KEY_STREAMS_GEOMETRY = "streams/geometry"
KEY_STATE = "window/state"
KEY_LABELS = "vocabulary/labels"
KEY_DISABLED = "vocabulary/disabled"


def app_settings() -> QSettings:
    """The user's settings file (tests redirect it with ``QSettings.setPath``)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def string_list(settings: QSettings, key: str) -> list[str]:
    """A stored list of strings (INI stores a one-element list as a plain string)."""
    value = settings.value(key, [])
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]
