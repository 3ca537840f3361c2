"""What psycopg raises when the database, or the connection to it, is away (as opposed to a statement it refused):
one definition for the store, the broker and the election."""

from __future__ import annotations

import psycopg

DOWN = (psycopg.OperationalError, psycopg.InterfaceError)
