"""WSGI entry point for gunicorn's gevent websocket worker (one worker per process)."""

from .app import create_app

app = create_app()
