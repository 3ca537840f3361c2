"""python-socketio's AsyncServer on uvicorn with uvloop and httptools, answering the same `join`/`send` events as
node-ref (no auth, no storage): what a Python user picks instead of us. Run by bench/run.py in bench/.venv-peers."""
from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable

import socketio
import uvicorn

# Same limits as ours: 64 KiB frames, no compression, websocket only. Any origin: node-ref does not check it either.
sio = socketio.AsyncServer(async_mode="asgi", transports=["websocket"], max_http_buffer_size=64 * 1024,
                           http_compression=False, cors_allowed_origins="*")
seq_by_chat: dict[str, int] = {}  # chat id -> last seq (rev follows it: only new messages bump it here)
sender_by_sid: dict[str, str] = {}  # fixed fake address per socket
socket_count = itertools.count(1)
message_count = itertools.count(1)


@sio.event
async def connect(sid: str, environ: dict, auth: object = None) -> None:
    sender_by_sid[sid] = "0x" + format(next(socket_count), "040x")


@sio.event
async def disconnect(sid: str, reason: object = None) -> None:
    sender_by_sid.pop(sid, None)


@sio.event
async def join(sid: str, payload: dict | None) -> dict:
    chat_id = str((payload or {}).get("chat_id"))
    await sio.enter_room(sid, chat_id)
    return {"ok": True, "chat": {"id": chat_id}, "changes": [], "has_more": False, "online": []}


@sio.event
async def send(sid: str, payload: dict) -> dict:
    chat_id = str(payload.get("chat_id"))
    seq = seq_by_chat[chat_id] = seq_by_chat.get(chat_id, 0) + 1
    now = int(time.time() * 1000)
    message = {"id": f"m{next(message_count)}", "chat_id": chat_id, "seq": seq, "rev": seq,
               "client_id": payload.get("client_id"), "sender": sender_by_sid.get(sid), "body": payload.get("body"),
               "tx": None, "xmtp_id": None, "xmtp_bound": False, "status": "provisional", "source": "fallback",
               "reason": None, "original": None, "sent_at": now, "updated_at": now}
    await sio.emit("message", message, room=chat_id)
    return {"ok": True, "message": message}


async def other(scope: dict, receive: Callable, send: Callable) -> None:
    """GET /api/health for the bench's readiness check; 404 in our error shape for anything else."""
    if scope["type"] != "http":
        return
    found = scope["method"] == "GET" and scope["path"] == "/api/health"
    body = b'{"status":"ok"}' if found else b'{"error":{"code":"not_found","message":"no such endpoint"}}'
    await send({"type": "http.response.start", "status": 200 if found else 404,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


app = socketio.ASGIApp(sio, other_asgi_app=other)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "5004")), loop="uvloop", http="httptools",
                ws="websockets-sansio", ws_max_size=64 * 1024, ws_per_message_deflate=False, log_level="warning",
                access_log=False)
