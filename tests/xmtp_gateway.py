"""A local stand-in of the XMTP gateway contract (docs/protocol.md): an agent that is a member of the conversations.

`GET /conversations/{conversation_id}/messages/{message_id}` → `200 {"sender", "content"}` or `404`.
Tests put what "XMTP holds" into `messages`; `down` makes it answer 503 like a gateway that lost its node.
"""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_PATH = re.compile(r"^/conversations/([^/]+)/messages/([^/]+)$")


class Gateway:
    def __init__(self) -> None:
        self.messages: dict[tuple[str, str], dict[str, str]] = {}
        self.down = False
        self.asked: list[tuple[str, str]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                found = _PATH.match(self.path)
                key = (found.group(1), found.group(2)) if found else None
                if key:
                    gateway.asked.append(key)
                if gateway.down:
                    self._reply(503, {"error": "XMTP node unreachable"})
                elif key in gateway.messages:
                    self._reply(200, gateway.messages[key])
                else:
                    self._reply(404, {"error": "not found"})

            def _reply(self, status: int, body: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def holds(self, conversation_id: str, message_id: str, sender: str, content: str) -> None:
        self.messages[(conversation_id, message_id)] = {"sender": sender, "content": content}

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()
