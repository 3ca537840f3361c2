/* The websocket wire's hot loops in C: the twins of wire/codec.py, equal in behaviour (tests/test_speedups.py).
 * Optional: built by setup.py when a compiler is there; wire/speedups.py picks these or the pure-Python ones. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <limits.h>

static PyObject *frame_type;      /* wire.frames.Frame, a bytes subclass: what the writer returns */
static PyObject *websocket_error; /* geventwebsocket's exceptions, raised as the pure reader raises them */
static PyObject *protocol_error;
static PyObject *too_large_error;

/* False, with an exception set, until init() has given the module its types. */
static int ready(void) {
    if (frame_type != NULL) return 1;
    PyErr_SetString(PyExc_RuntimeError, "_speedups.init() was not called");
    return 0;
}

/* A new Frame of n bytes, uninitialised (as CPython's own bytes_subtype_new makes one). */
static PyObject *new_frame(Py_ssize_t n) {
    PyTypeObject *type = (PyTypeObject *)frame_type;
    PyObject *obj = type->tp_alloc(type, n);
    if (obj == NULL) return NULL;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    ((PyBytesObject *)obj)->ob_shash = -1;
#pragma GCC diagnostic pop
    PyBytes_AS_STRING(obj)[n] = '\0';
    return obj;
}

/* The header of an unmasked, final frame (RFC 6455 §5.2) before a payload of n bytes; returns its length. */
static Py_ssize_t put_header(char *out, int opcode, Py_ssize_t n) {
    unsigned char *p = (unsigned char *)out;
    p[0] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        p[1] = (unsigned char)n;
        return 2;
    }
    if (n < 65536) {
        p[1] = 126;
        p[2] = (unsigned char)(n >> 8);
        p[3] = (unsigned char)n;
        return 4;
    }
    p[1] = 127;
    uint64_t len = (uint64_t)n;
    for (int i = 0; i < 8; i++) p[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    return 10;
}

static Py_ssize_t header_size(Py_ssize_t n) { return n < 126 ? 2 : n < 65536 ? 4 : 10; }

/* XOR n bytes of src with the 4-byte mask into dst, eight bytes at a time. */
static void xor_mask(char *dst, const char *src, Py_ssize_t n, const unsigned char *mask) {
    uint32_t m4;
    memcpy(&m4, mask, 4);
    uint64_t m8 = ((uint64_t)m4 << 32) | m4;
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= m8;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++) dst[i] = (char)(src[i] ^ mask[i & 3]);
}

static PyObject *frame(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "frame(opcode, payload)");
        return NULL;
    }
    if (!ready()) return NULL;
    int opcode = PyLong_AsLong(args[0]);
    if (opcode == -1 && PyErr_Occurred()) return NULL;
    Py_buffer payload;
    if (PyObject_GetBuffer(args[1], &payload, PyBUF_SIMPLE) < 0) return NULL;
    Py_ssize_t head = header_size(payload.len);
    PyObject *out = new_frame(head + payload.len);
    if (out != NULL) {
        char *p = PyBytes_AS_STRING(out);
        put_header(p, opcode, payload.len);
        memcpy(p + head, payload.buf, payload.len);
    }
    PyBuffer_Release(&payload);
    return out;
}

static PyObject *event_frame(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "event_frame(event: str, json: bytes)");
        return NULL;
    }
    if (!ready()) return NULL;
    Py_ssize_t event_len, json_len = PyBytes_GET_SIZE(args[1]);
    const char *event = PyUnicode_AsUTF8AndSize(args[0], &event_len);
    if (event == NULL) return NULL;
    Py_ssize_t n = 4 + event_len + 2 + json_len + 1; /* 42[" event ", json ] */
    Py_ssize_t head = header_size(n);
    PyObject *out = new_frame(head + n);
    if (out == NULL) return NULL;
    char *p = PyBytes_AS_STRING(out);
    p += put_header(p, 0x1, n);
    memcpy(p, "42[\"", 4);
    memcpy(p + 4, event, event_len);
    p += 4 + event_len;
    memcpy(p, "\",", 2);
    memcpy(p + 2, PyBytes_AS_STRING(args[1]), json_len);
    p[2 + json_len] = ']';
    return out;
}

static PyObject *unmask(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "unmask(mask, payload)");
        return NULL;
    }
    Py_buffer mask, payload;
    if (PyObject_GetBuffer(args[0], &mask, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(args[1], &payload, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&mask);
        return NULL;
    }
    PyObject *out = NULL;
    if (mask.len != 4) {
        PyErr_SetString(PyExc_ValueError, "a mask is 4 bytes");
    } else if ((out = PyBytes_FromStringAndSize(NULL, payload.len)) != NULL) {
        xor_mask(PyBytes_AS_STRING(out), payload.buf, payload.len, mask.buf);
    }
    PyBuffer_Release(&payload);
    PyBuffer_Release(&mask);
    return out;
}

/* read(n) as bytes, or NULL with an exception set. */
static PyObject *read_bytes(PyObject *read, Py_ssize_t n) {
    PyObject *want = PyLong_FromSsize_t(n);
    if (want == NULL) return NULL;
    PyObject *got = PyObject_CallOneArg(read, want);
    Py_DECREF(want);
    if (got != NULL && !PyBytes_Check(got)) {
        PyObject *copy = PyBytes_FromObject(got);
        Py_DECREF(got);
        got = copy;
    }
    return got;
}

static PyObject *ended(PyObject *got) {
    Py_XDECREF(got);
    PyErr_SetString(websocket_error, "the connection ended in the middle of a frame");
    return NULL;
}

/* read_frame(read, room, decode) -> (opcode, fin, payload): see codec.read_frame. */
static PyObject *read_frame(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "read_frame(read, room, decode)");
        return NULL;
    }
    if (!ready()) return NULL;
    PyObject *read = args[0];
    Py_ssize_t room = PyLong_AsSsize_t(args[1]);
    if (room == -1 && PyErr_Occurred()) return NULL;
    int decode = PyObject_IsTrue(args[2]);
    if (decode < 0) return NULL;

    PyObject *head = read_bytes(read, 2);
    if (head == NULL) return NULL;
    if (PyBytes_GET_SIZE(head) != 2) return ended(head);
    unsigned char first = (unsigned char)PyBytes_AS_STRING(head)[0];
    unsigned char second = (unsigned char)PyBytes_AS_STRING(head)[1];
    Py_DECREF(head);
    if (first & 0x70) {
        PyErr_SetString(protocol_error, "a reserved bit is set (no extension was agreed)");
        return NULL;
    }
    if (!(second & 0x80)) {
        PyErr_SetString(protocol_error, "a client's frames must be masked (RFC 6455 §5.1)");
        return NULL;
    }
    int op = first & 0x0F, fin = (first & 0x80) != 0;
    uint64_t n = second & 0x7F;
    unsigned char mask[4];
    int have_mask = 0;
    if (n >= 126) {
        Py_ssize_t want = n == 126 ? 6 : 12;
        PyObject *extended = read_bytes(read, want);
        if (extended == NULL) return NULL;
        if (PyBytes_GET_SIZE(extended) != want) return ended(extended);
        const unsigned char *e = (const unsigned char *)PyBytes_AS_STRING(extended);
        n = 0;
        for (Py_ssize_t i = 0; i < want - 4; i++) n = (n << 8) | e[i];
        memcpy(mask, e + want - 4, 4);
        have_mask = 1;
        Py_DECREF(extended);
    }
    if (op >= 0x8) {
        if (!fin || n > 125) {
            PyErr_SetString(protocol_error, "a control frame is final and carries at most 125 bytes");
            return NULL;
        }
    } else if (room < 0 || n > (uint64_t)room) {
        PyErr_SetString(too_large_error, "a message over the limit");
        return NULL;
    }
    PyObject *rest = read_bytes(read, (Py_ssize_t)n + (have_mask ? 0 : 4));
    if (rest == NULL) return NULL;
    if ((uint64_t)PyBytes_GET_SIZE(rest) != n + (have_mask ? 0 : 4)) return ended(rest);
    const char *src = PyBytes_AS_STRING(rest);
    if (!have_mask) {
        memcpy(mask, src, 4);
        src += 4;
    }
    PyObject *payload;
    if (decode && op == 0x1 && fin) {
        char small[512];
        char *buf = n <= sizeof small ? small : PyMem_Malloc(n);
        if (buf == NULL) {
            Py_DECREF(rest);
            return PyErr_NoMemory();
        }
        xor_mask(buf, src, (Py_ssize_t)n, mask);
        payload = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)n, "strict");
        if (buf != small) PyMem_Free(buf);
    } else if ((payload = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n)) != NULL) {
        xor_mask(PyBytes_AS_STRING(payload), src, (Py_ssize_t)n, mask);
    }
    Py_DECREF(rest);
    if (payload == NULL) return NULL;
    PyObject *result = Py_BuildValue("(iON)", op, fin ? Py_True : Py_False, payload);
    return result;
}

/* send_frames(raw, frames) -> Frame | None: see codec.send_frames; here one writev of every frame (up to IOV_MAX). */
static PyObject *send_frames(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyList_Check(args[1]) || PyList_GET_SIZE(args[1]) < 1) {
        PyErr_SetString(PyExc_TypeError, "send_frames(raw, frames: a list of bytes, not empty)");
        return NULL;
    }
    if (!ready()) return NULL;
    PyObject *frames = args[1];
    Py_ssize_t count = PyList_GET_SIZE(frames), total = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyBytes_Check(PyList_GET_ITEM(frames, i))) {
            PyErr_SetString(PyExc_TypeError, "frames are bytes");
            return NULL;
        }
        total += PyBytes_GET_SIZE(PyList_GET_ITEM(frames, i));
    }
    int fd = PyObject_AsFileDescriptor(args[0]);
    if (fd < 0) { /* a closed socket: the error its send() would raise */
        PyErr_Clear();
        errno = EBADF;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    int iovcnt = count < IOV_MAX ? (int)count : IOV_MAX;
    struct iovec small[16];
    struct iovec *iov = iovcnt <= 16 ? small : PyMem_New(struct iovec, iovcnt);
    if (iov == NULL) return PyErr_NoMemory();
    for (int i = 0; i < iovcnt; i++) {
        PyObject *item = PyList_GET_ITEM(frames, i);
        iov[i].iov_base = PyBytes_AS_STRING(item);
        iov[i].iov_len = (size_t)PyBytes_GET_SIZE(item);
    }
    ssize_t sent;
    int error;
    do { /* with the GIL held: the socket never blocks, and nothing can change the list meanwhile */
        sent = writev(fd, iov, iovcnt);
        error = errno;
    } while (sent < 0 && error == EINTR && PyErr_CheckSignals() == 0);
    if (iov != small) PyMem_Free(iov);
    if (sent < 0) {
        if (PyErr_Occurred()) return NULL; /* a signal handler raised */
        if (error != EAGAIN && error != EWOULDBLOCK) {
            errno = error;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        sent = 0;
    }
    if (sent == total) Py_RETURN_NONE;
    PyObject *rest = new_frame(total - sent);
    if (rest == NULL) return NULL;
    char *p = PyBytes_AS_STRING(rest);
    Py_ssize_t skip = sent;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(frames, i);
        Py_ssize_t n = PyBytes_GET_SIZE(item);
        if (skip >= n) {
            skip -= n;
            continue;
        }
        memcpy(p, PyBytes_AS_STRING(item) + skip, n - skip);
        p += n - skip;
        skip = 0;
    }
    return rest;
}

static PyObject *init(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyType_Check(args[0]) || !PyType_IsSubtype((PyTypeObject *)args[0], &PyBytes_Type)) {
        PyErr_SetString(PyExc_TypeError, "init(Frame, WebSocketError, ProtocolError, FrameTooLargeException)");
        return NULL;
    }
    PyObject **slots[] = {&frame_type, &websocket_error, &protocol_error, &too_large_error};
    for (int i = 0; i < 4; i++) {
        Py_INCREF(args[i]);
        Py_XSETREF(*slots[i], args[i]);
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"init", (PyCFunction)(void (*)(void))init, METH_FASTCALL, "Give the module the types it makes and raises."},
    {"frame", (PyCFunction)(void (*)(void))frame, METH_FASTCALL, "An unmasked, final frame."},
    {"event_frame", (PyCFunction)(void (*)(void))event_frame, METH_FASTCALL, "A text frame: 42[\"event\",json]."},
    {"unmask", (PyCFunction)(void (*)(void))unmask, METH_FASTCALL, "XOR with the 4-byte mask."},
    {"read_frame", (PyCFunction)(void (*)(void))read_frame, METH_FASTCALL, "One client frame, read and unmasked."},
    {"send_frames", (PyCFunction)(void (*)(void))send_frames, METH_FASTCALL, "Frames out in one writev; the rest."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
