"""WSGI entry point for gunicorn's gevent websocket worker (one worker per process)."""

from .boot import boot, config_from_env

app = boot(config_from_env())
