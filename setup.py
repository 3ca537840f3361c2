"""The optional C twins of the wire's hot loops: built when a compiler is there, skipped (pure Python) when not."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "optimistic_messaging.wire._speedups",
            ["backend/optimistic_messaging/wire/_speedups.c"],
            optional=True,
        )
    ]
)
