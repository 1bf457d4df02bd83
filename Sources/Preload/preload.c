// libfusebench-preload.so: what the harness needs from a FUSE server it did
// not write, loaded into it with LD_PRELOAD. It watches the server's
// /dev/fuse descriptors (one it inherited, FUSEBENCH_PRELOAD_FD, and any it
// opens on /dev/fuse) through the calls libfuse makes on them (read, splice,
// write, writev), and:
//
//  - saves the connection's FUSE_INIT request, as the server reads it, into
//    the stats region (the harness keeps it for the servers that resume);
//  - resumes a live connection (FUSEBENCH_PRELOAD_RESUME=1): the server's
//    first read returns the saved FUSE_INIT request (from the region), and
//    its reply is swallowed, since the kernel has had its INIT answered
//    long ago. This is what the reference server does through libfuse's
//    custom I/O; libfuse 3.3 and later take /dev/fd/N as the mountpoint;
//  - counts requests and records the first reply after INIT, in the same
//    stats region (FUSEBENCH_PRELOAD_STATS) the reference server writes;
//  - fires the harness's faults: a crash (abort) when a chosen opcode is
//    read or answered, a SIGKILL after N requests.
//
// Requests read with read(2) are counted per opcode. libfuse reads with
// splice(2) into a pipe once INIT is done, if the server has write_buf;
// those requests are counted, and their opcode is read (through a second
// read end of the pipe and tee(2)) only while a crash is armed.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "../CFuseShim/include/fbshim_stats.h"

#define FUSE_INIT_OPCODE 26
#define MAX_FD 4096
#define HDR_IN 40 // struct fuse_in_header
#define HDR_OUT 16 // struct fuse_out_header

static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_splice)(int, loff_t *, int, loff_t *, size_t, unsigned);
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);

static struct fbshim_stats_region *stats;
static unsigned char fuse_fds[MAX_FD];
/// 1 while the saved INIT is still to be handed to the first reader.
static int replay_pending;
/// The unique of the connection's INIT request (0: not seen yet).
static uint64_t init_unique;
/// Uniques of requests whose reply must crash (phase "after"), small ring.
#define PENDING_CRASH 64
static uint64_t crash_uniques[PENDING_CRASH];

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void resolve(void) {
    if (real_read) return;
    real_write = dlsym(RTLD_NEXT, "write");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_splice = dlsym(RTLD_NEXT, "splice");
    real_open = dlsym(RTLD_NEXT, "open");
    real_open64 = dlsym(RTLD_NEXT, "open64");
    real_openat = dlsym(RTLD_NEXT, "openat");
    real_openat64 = dlsym(RTLD_NEXT, "openat64");
    real_close = dlsym(RTLD_NEXT, "close");
    __atomic_store_n(&real_read, dlsym(RTLD_NEXT, "read"), __ATOMIC_RELEASE);
}

static int tracked(int fd) {
    return fd >= 0 && fd < MAX_FD && __atomic_load_n(&fuse_fds[fd], __ATOMIC_RELAXED);
}

static void track(int fd, int on) {
    if (fd >= 0 && fd < MAX_FD) __atomic_store_n(&fuse_fds[fd], (unsigned char)on, __ATOMIC_RELAXED);
}

__attribute__((constructor)) static void preload_init(void) {
    resolve();
    const char *fd = getenv("FUSEBENCH_PRELOAD_FD");
    if (fd && *fd) track(atoi(fd), 1);
    const char *path = getenv("FUSEBENCH_PRELOAD_STATS");
    if (path && *path) {
        int sfd = real_open(path, O_RDWR | O_CLOEXEC);
        if (sfd >= 0) {
            void *p = mmap(NULL, sizeof(struct fbshim_stats_region), PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
            real_close(sfd);
            if (p != MAP_FAILED && ((struct fbshim_stats_region *)p)->magic == FBSHIM_STATS_MAGIC) stats = p;
        }
    }
    const char *resume = getenv("FUSEBENCH_PRELOAD_RESUME");
    if (resume && *resume == '1' && stats && stats->init_len >= HDR_IN) {
        replay_pending = 1;
        memcpy(&init_unique, stats->init_bytes + 8, 8);
    }
}

/// A request of `len` bytes whose header is `hdr` (NULL: not seen) was read.
static void on_request(const unsigned char *hdr, size_t len) {
    if (!stats) return;
    uint32_t op = 0;
    uint64_t unique = 0;
    if (hdr) {
        memcpy(&op, hdr + 4, 4);
        memcpy(&unique, hdr + 8, 8);
    }
    __atomic_fetch_add(&stats->shim_requests_seen, 1, __ATOMIC_RELAXED);
    if (hdr && op == FUSE_INIT_OPCODE && init_unique == 0) {
        __atomic_store_n(&stats->shim_pid, (uint64_t)getpid(), __ATOMIC_RELAXED);
        // The connection's INIT, for the instances that will resume it.
        size_t n = len < sizeof(stats->init_bytes) ? len : sizeof(stats->init_bytes);
        memcpy(stats->init_bytes, hdr, n);
        __atomic_store_n(&stats->init_len, (uint64_t)n, __ATOMIC_RELEASE);
        init_unique = unique;
        return;
    }
    uint32_t slot = op < FBSHIM_STATS_OPCODES ? op : 0;
    __atomic_fetch_add(&stats->io[slot].received, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&stats->io[slot].in_bytes, len, __ATOMIC_RELAXED);
    __atomic_fetch_add(&stats->ops[slot].count, 1, __ATOMIC_RELAXED);
    uint64_t n = __atomic_add_fetch(&stats->requests, 1, __ATOMIC_RELAXED);
    uint64_t limit = __atomic_load_n(&stats->kill_after_requests, __ATOMIC_RELAXED);
    if (limit != 0 && n >= limit) kill(getpid(), SIGKILL);
    if (hdr && __atomic_load_n(&stats->crash_armed, __ATOMIC_ACQUIRE) && stats->crash_opcode == op) {
        if (stats->crash_phase == 1) {
            __atomic_store_n(&stats->crash_ns, now_ns(), __ATOMIC_RELAXED);
            abort();
        }
        crash_uniques[unique % PENDING_CRASH] = unique;
    }
}

/// A reply (or notification, unique 0) whose header is `hdr` is about to
/// be written; 1 if it must be swallowed (the replayed INIT's).
static int on_reply(const unsigned char *hdr) {
    uint64_t unique;
    memcpy(&unique, hdr + 8, 8);
    if (unique == 0) return 0;
    if (!stats) return 0;
    if (unique == init_unique) {
        uint32_t major, minor;
        memcpy(&major, hdr + HDR_OUT, 4);
        memcpy(&minor, hdr + HDR_OUT + 4, 4);
        stats->proto_major = major;
        stats->proto_minor = minor;
        __atomic_store_n(&stats->init_ns, now_ns(), __ATOMIC_RELEASE);
        return __atomic_load_n(&stats->shim_replayed, __ATOMIC_RELAXED) != 0;
    }
    if (crash_uniques[unique % PENDING_CRASH] == unique && __atomic_load_n(&stats->crash_armed, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&stats->crash_ns, now_ns(), __ATOMIC_RELAXED);
        abort();
    }
    uint64_t t = now_ns(), zero = 0;
    __atomic_compare_exchange_n(&stats->first_reply_ns, &zero, t, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    __atomic_store_n(&stats->last_reply_ns, t, __ATOMIC_RELAXED);
    return 0;
}

ssize_t read(int fd, void *buf, size_t count) {
    resolve();
    if (!tracked(fd)) return real_read(fd, buf, count);
    if (__atomic_exchange_n(&replay_pending, 0, __ATOMIC_ACQ_REL)) {
        size_t n = (size_t)stats->init_len;
        if (n > count) {
            errno = EINVAL;
            return -1;
        }
        memcpy(buf, stats->init_bytes, n);
        __atomic_store_n(&stats->shim_replayed, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&stats->shim_pid, (uint64_t)getpid(), __ATOMIC_RELAXED);
        return (ssize_t)n;
    }
    ssize_t r = real_read(fd, buf, count);
    if (r >= HDR_IN) on_request(buf, (size_t)r);
    return r;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    resolve();
    if (!tracked(fd) || iovcnt < 1) return real_writev(fd, iov, iovcnt);
    unsigned char hdr[HDR_OUT + 8] = {0};
    size_t have = 0, total = 0;
    for (int i = 0; i < iovcnt; i++) {
        size_t take = iov[i].iov_len;
        if (have < sizeof hdr) {
            size_t c = take < sizeof hdr - have ? take : sizeof hdr - have;
            memcpy(hdr + have, iov[i].iov_base, c);
            have += c;
        }
        total += take;
    }
    if (have >= HDR_OUT && on_reply(hdr)) return (ssize_t)total;
    return real_writev(fd, iov, iovcnt);
}

ssize_t write(int fd, const void *buf, size_t count) {
    resolve();
    if (tracked(fd) && count >= HDR_OUT + 8 && on_reply(buf)) return (ssize_t)count;
    return real_write(fd, buf, count);
}

/// A second read end of the pipe whose write end is `wfd` (for tee).
static __thread int peek_pipe_of = -1, peek_read = -1, peek_tmp[2] = {-1, -1};

static int peek_header(int pipe_write_fd, unsigned char *hdr) {
    if (peek_pipe_of != pipe_write_fd) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", pipe_write_fd);
        if (peek_read >= 0) real_close(peek_read);
        peek_read = real_open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        peek_pipe_of = peek_read >= 0 ? pipe_write_fd : -1;
        if (peek_tmp[0] < 0 && pipe2(peek_tmp, O_CLOEXEC | O_NONBLOCK) != 0) return 0;
    }
    if (peek_read < 0) return 0;
    ssize_t t = tee(peek_read, peek_tmp[1], HDR_IN, SPLICE_F_NONBLOCK);
    if (t <= 0) return 0;
    ssize_t n = real_read(peek_tmp[0], hdr, HDR_IN);
    unsigned char drain[HDR_IN];
    while (real_read(peek_tmp[0], drain, sizeof drain) > 0) {
    }
    return n == HDR_IN;
}

ssize_t splice(int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, unsigned int flags) {
    resolve();
    if (tracked(fd_in)) {
        // A request, from the device into libfuse's pipe.
        ssize_t r = real_splice(fd_in, off_in, fd_out, off_out, len, flags);
        if (r >= HDR_IN && stats) {
            unsigned char hdr[HDR_IN];
            int armed = __atomic_load_n(&stats->crash_armed, __ATOMIC_ACQUIRE) != 0;
            on_request(armed && peek_header(fd_out, hdr) ? hdr : NULL, (size_t)r);
        }
        return r;
    }
    if (tracked(fd_out) && stats
        && (__atomic_load_n(&stats->first_reply_ns, __ATOMIC_RELAXED) == 0
            || __atomic_load_n(&stats->crash_armed, __ATOMIC_RELAXED) != 0)) {
        // A reply, from libfuse's pipe (its header first) to the device:
        // looked at only until the first reply, or while a crash is armed.
        unsigned char tmp[2 * HDR_OUT];
        int p[2];
        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
            ssize_t t = tee(fd_in, p[1], HDR_OUT + 8, SPLICE_F_NONBLOCK);
            if (t >= HDR_OUT && real_read(p[0], tmp, (size_t)t) >= HDR_OUT) on_reply(tmp);
            real_close(p[0]);
            real_close(p[1]);
        }
    }
    return real_splice(fd_in, off_in, fd_out, off_out, len, flags);
}

/// `fd`, just opened on `path`: watched if it is the FUSE device.
static int opened(int fd, const char *path) {
    if (fd >= 0 && path && strcmp(path, "/dev/fuse") == 0) track(fd, 1);
    return fd;
}

/// The mode argument of an open call with `flags` (only passed with
/// O_CREAT or O_TMPFILE); a statement expression, since va_start needs the
/// variadic function's own frame.
#define OPEN_MODE(flags)                                                       \
    ({                                                                         \
        mode_t mode_ = 0;                                                      \
        if ((flags) & (O_CREAT | __O_TMPFILE)) {                               \
            va_list ap;                                                        \
            va_start(ap, flags);                                               \
            mode_ = va_arg(ap, mode_t);                                        \
            va_end(ap);                                                        \
        }                                                                      \
        mode_;                                                                 \
    })

int open(const char *path, int flags, ...) {
    resolve();
    return opened(real_open(path, flags, OPEN_MODE(flags)), path);
}
int open64(const char *path, int flags, ...) {
    resolve();
    return opened(real_open64(path, flags, OPEN_MODE(flags)), path);
}
int openat(int dirfd, const char *path, int flags, ...) {
    resolve();
    return opened(real_openat(dirfd, path, flags, OPEN_MODE(flags)), path);
}
int openat64(int dirfd, const char *path, int flags, ...) {
    resolve();
    return opened(real_openat64(dirfd, path, flags, OPEN_MODE(flags)), path);
}

int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open64(path, flags); }

int close(int fd) {
    resolve();
    if (tracked(fd)) track(fd, 0);
    return real_close(fd);
}
