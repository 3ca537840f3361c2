"""engine.io and Socket.IO packets: broadcasts encoded once, one pinger for every socket, hostile packets refused."""

from __future__ import annotations

import functools
import logging
import math
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Iterable
from typing import Any

import engineio
import engineio.packet
import engineio.socket
import gevent
import gevent.event
import orjson
import socketio

from ..errors import ApiError, internal, refused
from ..stats import METER
from .frames import Frame, deliver, deliver_soon, drop, event_frame, text_frame

RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error"})
MAX_IN_FLIGHT = 256  # answers one socket may have outstanding; past it, its reader waits (backpressure)
_EVENT_ACK_ID = re.compile(r"2(?:/[^,]*,)?([0-9]{1,15})")
log = logging.getLogger(__name__)


def broadcast_many(sio: socketio.Server, events: Iterable[tuple[str, str, Any, Collection[str]]]) -> None:
    """Emit (room, event, data, sids to skip) in order: each frame encoded once, each socket written once
    (deliver_soon gathers a socket's frames of this turn into one write)."""
    rooms = sio.manager.rooms.get("/", {})
    sockets = sio.eio.sockets
    delivered = 0
    for room, event, data, skip in events:
        members = rooms.get(room)
        if not members:
            continue
        frame = event_frame(event, data)
        for sid, eio_sid in members.items():  # read in place: nothing here yields, so the room cannot change meanwhile
            if sid not in skip and (eio_socket := sockets.get(eio_sid)) is not None:
                deliver_soon(eio_socket, frame)
                delivered += 1
    METER.deliveries += delivered


def broadcast(sio: socketio.Server, room: str, event: str, data: Any, skip: Collection[str] = ()) -> None:
    """Emit one event to every socket in the room but `skip`."""
    broadcast_many(sio, ((room, event, data, skip),))


def to_sids(sio: socketio.Server, sids: Iterable[str], event: str, data: Any) -> None:
    """Emit one event to these sockets (on '/'): its frame encoded once, whatever their number."""
    by_sid = sio.manager.rooms.get("/", {}).get(None, {})  # python-socketio's own sid -> engine.io sid map
    sockets = sio.eio.sockets
    frame: Frame | None = None
    for sid in sids:
        if (eio_sid := by_sid.get(sid)) is not None and (eio_socket := sockets.get(eio_sid)) is not None:
            frame = frame or event_frame(event, data)
            deliver_soon(eio_socket, frame)


def in_room(sio: socketio.Server, room: str) -> list[str]:
    """The sids of the sockets in the room (on '/'), as it is now."""
    return list(sio.manager.rooms.get("/", {}).get(room, ()))


def room_empty(sio: socketio.Server, room: str) -> bool:
    """Whether no socket is in the room (on '/'), in O(1): python-socketio deletes a room as its last socket leaves."""
    return not sio.manager.rooms.get("/", {}).get(room)


def close_socket(sio: socketio.Server, sid: str) -> None:
    """End the Socket.IO session (its disconnect handler runs) and close its engine.io socket with it, at once."""
    eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
    sio.disconnect(sid)
    eio_socket = sio.eio.sockets.get(eio_sid) if eio_sid else None
    if eio_socket is not None:
        eio_socket.close(wait=False)


def _send_packet(eio: engineio.Server, eio_sid: str, pkt: engineio.packet.Packet) -> None:
    """engine.io's send_packet, taking the direct path for text messages (acks, single-socket events)."""
    eio_socket = eio.sockets.get(eio_sid)
    if eio_socket is None:
        return
    if pkt.packet_type == engineio.packet.MESSAGE and isinstance(pkt.data, str):
        deliver(eio_socket, text_frame(("4" + pkt.data).encode()))
    else:
        eio_socket.send(pkt)


class _Pinger:
    """One greenlet sends every socket's engine.io PING and closes those whose PONG is late; engine.io itself parks a
    sleeping greenlet per socket and leaves the timeout to a sweep that can take ping_timeout more to come round.

    It keeps session ids, never sockets, and forgets a session as it closes: a closed session is freed at once, not
    after an interval. An engine.io session with no Socket.IO session on '/' at two pings in a row (or at its first)
    is closed: it signed in to nothing for a whole interval. One that leaves '/' and comes back within an interval is
    not.
    """

    def __init__(self, eio: engineio.Server, attached: Callable[[str], bool]) -> None:
        self.eio = eio
        self.attached = attached
        # One interval (and one timeout) for all, so adding at the end keeps each sorted by deadline.
        self.due: OrderedDict[str, float] = OrderedDict()  # sid -> when its next PING goes out
        self.answers: OrderedDict[str, float] = OrderedDict()  # sid -> by when its PONG must have come
        self.wake = gevent.event.Event()

    def add(self, sid: str) -> None:
        """The session opened or answered a PING: its next one goes out in an interval."""
        self.answers.pop(sid, None)
        self.due[sid] = time.monotonic() + self.eio.ping_interval
        self.wake.set()

    def forget(self, sid: str) -> None:
        self.due.pop(sid, None)
        self.answers.pop(sid, None)

    def run(self) -> None:
        while True:
            if not self.due and not self.answers:
                self.wake.clear()
                self.wake.wait()
                continue
            now = time.monotonic()
            ping_at = next(iter(self.due.values())) if self.due else math.inf
            late_at = next(iter(self.answers.values())) if self.answers else math.inf
            if min(ping_at, late_at) > now:
                gevent.sleep(min(ping_at, late_at) - now)
            elif late_at <= ping_at:
                self._late(self.answers.popitem(last=False)[0])
            else:
                self._ping(self.due.popitem(last=False)[0])

    def _late(self, sid: str) -> None:
        eio_socket = self.eio.sockets.get(sid)
        if eio_socket is not None and not (eio_socket.closing or eio_socket.closed):
            drop(eio_socket, f"no answer to a ping within {self.eio.ping_timeout:g} s")

    def _ping(self, sid: str) -> None:
        eio_socket = self.eio.sockets.get(sid)
        if eio_socket is None or eio_socket.closing or eio_socket.closed:
            return
        if self.attached(sid):
            eio_socket.om_unattached = False
        elif getattr(eio_socket, "om_unattached", True):  # a new session counts as unattached since its start
            drop(eio_socket, "no Socket.IO session on '/' for a whole ping interval")
            return
        else:
            eio_socket.om_unattached = True
        eio_socket.last_ping = time.time()
        self.answers[sid] = time.monotonic() + self.eio.ping_timeout
        eio_socket.send(engineio.packet.Packet(engineio.packet.PING))


def _schedule_ping(self: engineio.socket.Socket) -> None:
    """engine.io's Socket.schedule_ping, handing the wait to the server's one pinger."""
    if self.last_ping:
        self.last_ping = None
        self.server.om_pinger.add(self.sid)


class Later:
    """A handler's answer that comes once `pending` is ready (a send on its way to durability): `answer()` makes it."""

    __slots__ = ("answer", "pending")

    def __init__(self, pending: Any, answer: Callable[[], Any]) -> None:
        self.pending = pending
        self.answer = answer


class _Lane:
    """One socket's outstanding answers, in the order its events came: each goes out once it and all before it have."""

    __slots__ = ("entries", "waiter")

    def __init__(self) -> None:
        self.entries: deque[list[Any]] = deque()  # [ack id, answer or _WAITING]
        self.waiter: gevent.event.Event | None = None  # made only when an event has to wait for the lane to empty

    def wait_empty(self) -> None:
        if self.entries:
            if self.waiter is None:
                self.waiter = gevent.event.Event()
            self.waiter.wait()

    def emptied(self) -> None:
        if self.waiter is not None:
            self.waiter.set()


_WAITING = object()


def _refuse(sio: socketio.Server, eio_sid: str, ack_id: Any, message: str) -> None:
    """Answer an event the server will not run, when the client asked for an answer."""
    if ack_id is not None:
        sio.eio.send(eio_sid, f"3{ack_id}" + orjson.dumps([refused(ApiError("invalid", message))]).decode())


def _event_on_root(data: str) -> tuple[int | None, list[Any]] | None:
    """An EVENT (2) on namespace '/' — `2[...]` or `2<ack id>[...]` — decoded here: (ack id, [name, *args]); None for
    any other packet, which python-socketio decodes."""
    if data[:1] != "2":
        return None
    end = 1
    while end < len(data) and "0" <= data[end] <= "9":
        end += 1
    if end == len(data) or data[end] != "[" or end > 16:
        return None
    payload = orjson.loads(data[end:])
    if not (isinstance(payload, list) and payload and isinstance(payload[0], str)):
        raise ValueError("an event is a list that starts with its name")
    return (int(data[1:end]) if end > 1 else None), payload


def _guard_messages(sio: socketio.Server, pipelined: Collection[str]) -> None:
    """In front of python-socketio's dispatch: events on '/' are decoded and answered here (the hot path); binary
    packets drop the connection (nothing here uses them, and their attachments would be buffered without limit);
    packets that do not decode get `invalid`, not silence. `pipelined` events' answers may come later (a handler
    answers `Later`), while the socket's next events are read."""
    dispatch = sio.eio.handlers["message"]

    def on_message(eio_sid: str, data: Any) -> None:
        if not isinstance(data, str) or data[:1] in ("5", "6"):
            eio_socket = sio.eio.sockets.get(eio_sid)
            if eio_socket is not None:
                drop(eio_socket, "binary packet")
            return
        try:
            event = _event_on_root(data)
            if event is None:
                return dispatch(eio_sid, data)
            sid = sio.manager.sid_from_eio_sid(eio_sid, "/")
            if sid is not None and sio.manager.is_connected(sid, "/"):  # else python-socketio ignores it too
                handle_event(sio, sid, eio_sid, event[1], "/", event[0])
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            log.debug("undecodable packet from %s: %s", eio_sid, exc)
            ack = _EVENT_ACK_ID.match(data)
            _refuse(sio, eio_sid, ack and ack.group(1), "packet is not a valid Socket.IO event with a JSON payload")

    sio.eio.on("message", on_message)
    lanes: dict[str, _Lane] = {}  # sid -> its outstanding answers, while it has any

    def ack(server: Any, eio_sid: str, namespace: str, ack_id: Any, value: Any) -> None:
        """ACK (3) on '/' as one frame built here (python-socketio's Packet walks the data looking for binary)."""
        if ack_id is None or value is server.not_handled:
            return
        data = [] if value is None else list(value) if isinstance(value, tuple) else [value]
        if namespace != "/":
            return server._send_packet(
                eio_sid, server.packet_class(socketio.packet.ACK, namespace=namespace, id=ack_id, data=data)
            )
        eio_socket = server.eio.sockets.get(eio_sid)
        if eio_socket is not None:
            deliver_soon(eio_socket, text_frame(b"43" + str(ack_id).encode() + orjson.dumps(data)))

    def flush(server: Any, sid: str, eio_sid: str, namespace: str, lane: _Lane) -> None:
        while lane.entries and lane.entries[0][1] is not _WAITING:
            ack_id, value = lane.entries.popleft()
            ack(server, eio_sid, namespace, ack_id, value)
        if not lane.entries:
            lanes.pop(sid, None)
            lane.emptied()

    def handle_event(server: Any, sid: str, eio_sid: str, data: list[Any], namespace: str, ack_id: Any) -> None:
        lane = lanes.get(sid)
        if data[0] not in pipelined or data[0] in RESERVED_EVENTS:
            if lane is not None:  # answers go out in order, and this event sees what the sends before it did
                lane.wait_empty()
            if data[0] in RESERVED_EVENTS:  # else the server's own connect/disconnect handlers would run
                return _refuse(sio, eio_sid, ack_id, f"'{data[0]}' is reserved and cannot be sent as an event")
            return ack(server, eio_sid, namespace, ack_id, server._trigger_event(data[0], namespace, sid, *data[1:]))
        answer = server._trigger_event(data[0], namespace, sid, *data[1:])
        if not isinstance(answer, Later) and lane is None:
            return ack(server, eio_sid, namespace, ack_id, answer)
        if lane is None:
            lane = lanes[sid] = _Lane()
        entry = [ack_id, answer]
        lane.entries.append(entry)
        if isinstance(answer, Later):
            entry[1] = _WAITING

            def ready(_: Any, later: Later = answer, entry: list[Any] = entry, lane: _Lane = lane) -> None:
                try:
                    entry[1] = later.answer()
                except Exception:
                    log.exception("%s answer failed", data[0])
                    entry[1] = refused(internal())
                flush(server, sid, eio_sid, namespace, lane)

            answer.pending.rawlink(ready)
        else:
            flush(server, sid, eio_sid, namespace, lane)
        if len(lane.entries) >= MAX_IN_FLIGHT:
            lane.wait_empty()

    sio._handle_event_internal = handle_event


def install() -> None:
    """Process-wide: every engine.io socket hands its wait for the next PING to its server's one pinger."""
    engineio.socket.Socket.schedule_ping = _schedule_ping


def attach(sio: socketio.Server, pipelined: Collection[str]) -> Callable[[], None]:
    """Direct sends, one pinger, and the packet guard on this Socket.IO server; returns the pinger's loop, for the
    caller to run (nothing starts here)."""
    sio.eio.send_packet = functools.partial(_send_packet, sio.eio)
    attached = lambda eio_sid: sio.manager.sid_from_eio_sid(eio_sid, "/") is not None
    pinger = sio.eio.om_pinger = _Pinger(sio.eio, attached)
    # engine.io's sweep for late PONGs is the pinger's job; its copy of every socket kept closed ones for ping_timeout.
    sio.eio.start_service_task = False
    on_disconnect = sio.eio.handlers["disconnect"]

    def disconnect(eio_sid: str, *args: Any) -> Any:
        """A session closing is forgotten at once, by the pinger and by engine.io (whose sweep is off)."""
        pinger.forget(eio_sid)
        try:
            return on_disconnect(eio_sid, *args)
        finally:
            sio.eio.sockets.pop(eio_sid, None)

    sio.eio.on("disconnect", disconnect)
    _guard_messages(sio, pipelined)
    return pinger.run
