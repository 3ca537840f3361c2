"""fsync without a thread of ours, where Linux has it: the kernel runs it (Linux AIO, `IOCB_CMD_FSYNC`) and signals an
eventfd that the event loop waits on, so other sockets are served meanwhile.

The alternative, gevent's thread pool, wakes a thread per commit and waits for it to wake the loop back: on this VM
that hand-off added ~50 µs to a commit's latency (`bench/README`, "The fsync without a thread"). The fsync's own work
is the same either way; here the kernel's workers do it, so it is no longer counted in the server process's CPU time.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import sys

from gevent.hub import get_hub

log = logging.getLogger(__name__)

# io_setup, io_destroy, io_getevents, io_submit, by machine (the generic table for arm64)
_SYSCALLS = {"x86_64": (206, 207, 208, 209), "aarch64": (0, 1, 4, 2)}
_IOCB_CMD_FSYNC = 2
_IOCB_FLAG_RESFD = 1  # signal `aio_resfd` (an eventfd) when it completes


class _Iocb(ctypes.Structure):
    """`struct iocb` of linux/aio_abi.h, little-endian (both machines above are)."""

    _fields_ = [
        ("aio_data", ctypes.c_uint64),
        ("aio_key", ctypes.c_uint32),
        ("aio_rw_flags", ctypes.c_int32),
        ("aio_lio_opcode", ctypes.c_uint16),
        ("aio_reqprio", ctypes.c_int16),
        ("aio_fildes", ctypes.c_uint32),
        ("aio_buf", ctypes.c_uint64),
        ("aio_nbytes", ctypes.c_uint64),
        ("aio_offset", ctypes.c_int64),
        ("aio_reserved2", ctypes.c_uint64),
        ("aio_flags", ctypes.c_uint32),
        ("aio_resfd", ctypes.c_uint32),
    ]


class _IoEvent(ctypes.Structure):
    """`struct io_event`: `res` is 0, or minus the errno the fsync failed with."""

    _fields_ = [("data", ctypes.c_uint64), ("obj", ctypes.c_uint64), ("res", ctypes.c_int64), ("res2", ctypes.c_int64)]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class AioFsync:
    """One AIO context with room for one fsync at a time (the store's writer makes them one after another)."""

    def __init__(self, calls: tuple[int, int, int, int]) -> None:
        self._setup, self._destroy, self._getevents, self._submit = calls
        self._syscall = ctypes.CDLL(None, use_errno=True).syscall
        self._syscall.restype = ctypes.c_long
        self._ctx = ctypes.c_ulong(0)
        if self._syscall(self._setup, ctypes.c_uint(1), ctypes.byref(self._ctx)) < 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"io_setup: {os.strerror(errno)}")
        try:
            self._eventfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        except OSError:
            self._syscall(self._destroy, self._ctx)
            raise
        self._hub = get_hub()
        self._ready = self._hub.loop.io(self._eventfd, 1)  # readable: an fsync completed
        self._iocb = _Iocb(aio_lio_opcode=_IOCB_CMD_FSYNC, aio_flags=_IOCB_FLAG_RESFD, aio_resfd=self._eventfd)
        self._iocbs = (ctypes.POINTER(_Iocb) * 1)(ctypes.pointer(self._iocb))
        self._event = _IoEvent()
        self._now = _Timespec(0, 0)  # io_getevents never waits: it is called once the eventfd said it is done
        self._in_flight = False  # submitted, its event not yet read (a wait cut short leaves it so)

    def fsync(self, fd: int) -> None:
        """fsync(2) of `fd`, waiting in this greenlet only; raises the OSError it failed with."""
        if self._in_flight:  # an earlier one whose wait was cut short: its event must not pass for this one's
            self._reap()
        self._iocb.aio_fildes = fd
        if self._syscall(self._submit, self._ctx, ctypes.c_long(1), self._iocbs) != 1:
            errno = ctypes.get_errno()
            raise OSError(errno, f"io_submit: {os.strerror(errno)}")
        self._in_flight = True
        res = self._reap()
        if res < 0:
            raise OSError(-res, f"fsync: {os.strerror(-res)}")

    def _reap(self) -> int:
        """Wait for the fsync in flight and read its event: 0, or minus the errno it failed with."""
        while True:
            try:
                os.eventfd_read(self._eventfd)
                break
            except BlockingIOError:
                self._hub.wait(self._ready)
        # the kernel puts the event in the ring before it signals the eventfd: it is there, and this does not wait
        got = self._syscall(
            self._getevents, self._ctx, ctypes.c_long(1), ctypes.c_long(1), ctypes.byref(self._event),
            ctypes.byref(self._now),
        )  # fmt: skip
        if got != 1:
            errno = ctypes.get_errno() if got < 0 else 0
            raise OSError(errno, f"io_getevents answered {got}")
        self._in_flight = False
        return int(self._event.res)

    def close(self) -> None:
        """Free the context, so the fd may be closed after: the kernel first waits for an fsync in flight (on a disk
        that hangs, so does this, as a thread's fsync would have kept the fd busy)."""
        self._syscall(self._destroy, self._ctx)
        self._ready.close()
        os.close(self._eventfd)


def open_aio(fd: int) -> AioFsync | None:
    """The kernel's fsync of `fd`'s file (tried once here), or None where it has none to offer: not Linux, another
    machine or a 32-bit Python, a kernel that refuses AIO or an fsync by it (before 4.18), a filesystem without."""
    calls = _SYSCALLS.get(platform.machine()) if sys.platform == "linux" else None
    if calls is None or ctypes.sizeof(ctypes.c_void_p) != 8:  # the numbers above are of the 64-bit tables
        return None
    try:
        aio = AioFsync(calls)
    except OSError as exc:
        log.info("no Linux AIO (%s): the log's fsyncs go to a thread", exc)
        return None
    try:
        aio.fsync(fd)
    except OSError as exc:
        aio.close()
        log.info("no fsync by Linux AIO (%s): the log's fsyncs go to a thread", exc)
        return None
    return aio
