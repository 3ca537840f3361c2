"""The wire's codec: the compiled twins (wire/_speedups.c) when they were built, else pure Python (wire/codec.py);
OM_PURE_PYTHON=1 forces pure Python."""

from __future__ import annotations

import os
from types import ModuleType

from geventwebsocket.exceptions import FrameTooLargeException, ProtocolError, WebSocketError

from . import codec


def _compiled() -> ModuleType | None:
    if os.environ.get("OM_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        from . import _speedups
    except ImportError:  # built without a compiler: the pure-Python path
        return None
    _speedups.init(codec.Frame, WebSocketError, ProtocolError, FrameTooLargeException)
    return _speedups


_impl = _compiled() or codec
COMPILED = _impl is not codec
frame = _impl.frame
event_frame = _impl.event_frame
unmask = _impl.unmask
read_frame = _impl.read_frame
send_frames = _impl.send_frames
