"""Optimistic Messaging: the real-time, durable, reconciled fallback layer for XMTP wallet chats."""

from .app import create_app

__all__ = ["create_app"]
