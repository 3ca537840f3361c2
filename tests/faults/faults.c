/* Disk faults for the tests, injected with LD_PRELOAD into a real server process; nothing here ships.
 *
 * Each fault is armed by a file in $OM_FAULT_DIR while it exists:
 *   fsync      fsync() and fdatasync() fail with EIO, and so does an fsync by Linux AIO (its io_event says so)
 *   fsync-once the next of those fails with EIO (the file is removed as it fails)
 *   ftruncate  ftruncate() fails with EIO
 *   enospc     write() fails with ENOSPC on files whose path contains the text this file holds
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static int armed(const char *name, char *content, size_t size) {
    const char *dir = getenv("OM_FAULT_DIR");
    char path[4096];
    if (dir == NULL || snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return 0;
    if (content == NULL) return access(path, F_OK) == 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, content, size - 1);
    close(fd);
    content[n > 0 ? n : 0] = '\0';
    return n > 0;
}

static int once(const char *name) {
    const char *dir = getenv("OM_FAULT_DIR");
    char path[4096];
    if (dir == NULL || snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return 0;
    return unlink(path) == 0;
}

static int sync_fails(void) {
    return armed("fsync", NULL, 0) || once("fsync-once");
}

static int fail(int code) {
    errno = code;
    return -1;
}

int fsync(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "fsync");
    return sync_fails() ? fail(EIO) : real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (!real) real = dlsym(RTLD_NEXT, "fdatasync");
    return sync_fails() ? fail(EIO) : real(fd);
}

/* The store calls io_getevents through syscall(): a completed fsync is reported as failed, as the kernel would. */
long syscall(long number, ...) {
    static long (*real)(long, ...);
    if (!real) real = dlsym(RTLD_NEXT, "syscall");
    va_list ap;
    va_start(ap, number);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long), a3 = va_arg(ap, long);
    long a4 = va_arg(ap, long), a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    long got = real(number, a1, a2, a3, a4, a5, a6);
    if (number == SYS_io_getevents && got > 0 && sync_fails()) {
        struct io_event *events = (struct io_event *)a4;
        for (long i = 0; i < got; i++) events[i].res = -EIO;
    }
    return got;
}

int ftruncate(int fd, off_t length) {
    static int (*real)(int, off_t);
    if (!real) real = dlsym(RTLD_NEXT, "ftruncate");
    return armed("ftruncate", NULL, 0) ? fail(EIO) : real(fd, length);
}

int ftruncate64(int fd, off_t length) {
    return ftruncate(fd, length);
}

ssize_t write(int fd, const void *buf, size_t count) {
    static ssize_t (*real)(int, const void *, size_t);
    if (!real) real = dlsym(RTLD_NEXT, "write");
    char fragment[1024], link[64], target[4096];
    if (fd > 2 && armed("enospc", fragment, sizeof fragment)) {
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strstr(target, fragment) != NULL) return fail(ENOSPC);
        }
    }
    return real(fd, buf, count);
}
