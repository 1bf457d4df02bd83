// The libfuse session's edges: replies from a descriptor, notifications,
// the custom I/O hooks (splice send, per-thread request facts) and the INIT
// reply's KILLPRIV_V2 flag.
#define _GNU_SOURCE
#include <spawn.h>
#include "CFuseShim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <linux/fs.h>
#include <linux/fuse.h>
#include <linux/capability.h>
#include <stddef.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

int fbshim_reply_fd_data(fuse_req_t req, int fd, size_t size, off_t off) {
    struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
    buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    buf.buf[0].fd = fd;
    buf.buf[0].pos = off;
    // No FUSE_BUF_SPLICE_MOVE: pages are copied, not stolen from the
    // backing file's page cache.
    return fuse_reply_data(req, &buf, 0);
}

ssize_t fbshim_write_buf_to_fd(struct fuse_bufvec *in, int fd, off_t off) {
    struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
    out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    out.buf[0].fd = fd;
    out.buf[0].pos = off;
    return fuse_buf_copy(&out, in, 0);
}

const char *fbshim_libfuse_version(void) { return fuse_pkgversion(); }

int fbshim_notify_bare(int fuse_fd, int code) {
    struct fuse_out_header h = {.len = sizeof h, .error = code, .unique = 0};
    ssize_t n = write(fuse_fd, &h, sizeof h);
    return n == (ssize_t)sizeof h ? 0 : -1;
}

int fbshim_notify_inval_inode(struct fuse_session *se, uint64_t ino, int64_t off, int64_t len) {
    return fuse_lowlevel_notify_inval_inode(se, ino, off, len);
}

int fbshim_notify_inval_entry(struct fuse_session *se, uint64_t parent, const char *name, size_t namelen) {
    return fuse_lowlevel_notify_inval_entry(se, parent, name, namelen);
}

ssize_t fbshim_notify_expire_entry(struct fuse_session *se, uint64_t parent, const char *name, size_t namelen) {
    struct fuse_out_header h;
    struct fuse_notify_inval_entry_out arg;
    memset(&arg, 0, sizeof arg);
    arg.parent = parent;
    arg.namelen = (uint32_t)namelen;
    arg.flags = FUSE_EXPIRE_ONLY;
    h.unique = 0;
    h.error = FUSE_NOTIFY_INVAL_ENTRY;
    struct iovec iov[4] = {
        {.iov_base = &h, .iov_len = sizeof h},
        {.iov_base = &arg, .iov_len = sizeof arg},
        {.iov_base = (void *)name, .iov_len = namelen},
        {.iov_base = (void *)"", .iov_len = 1},
    };
    h.len = (uint32_t)(sizeof h + sizeof arg + namelen + 1);
    ssize_t n;
    do { n = writev(fuse_session_fd(se), iov, 4); } while (n < 0 && errno == EINTR);
    return n;
}

static ssize_t fbshim_splice_receive(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
                                     unsigned int flags, void *userdata) {
    (void)userdata;
    return splice(fdin, offin, fdout, offout, len, flags);
}

static struct fbshim_stats_region *fbshim_splice_region;

void fbshim_set_splice_stats(struct fbshim_stats_region *r) { fbshim_splice_region = r; }

static __thread uint32_t fbshim_opcode;

void fbshim_set_thread_opcode(uint32_t op) { fbshim_opcode = op; }

uint32_t fbshim_thread_opcode(void) { return fbshim_opcode; }

static ssize_t fbshim_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
                                  unsigned int flags, void *userdata) {
    (void)userdata;
    ssize_t n = splice(fdin, offin, fdout, offout, len, flags);
    // libfuse calls this only for the pipe-to-/dev/fuse half of a spliced
    // reply (the file-to-pipe half is its own splice), so n is reply bytes.
    if (n > 0 && fbshim_splice_region != NULL)
        fbshim_stats_sent(fbshim_splice_region, (uint64_t)n);
    return n;
}

int fbshim_session_custom_io(struct fuse_session *se, int fd, fbshim_read_fn rd, fbshim_writev_fn wr,
                             int with_splice) {
    struct fuse_custom_io io;
    memset(&io, 0, sizeof io);
    io.read = rd;
    io.writev = wr;
    // Only splice_send: with a splice_receive, requests would reach libfuse
    // without passing through `rd`, which counts resent requests.
    (void)fbshim_splice_receive;
    if (with_splice) io.splice_send = fbshim_splice_send;
    return fuse_session_custom_io(se, &io, fd);
}

static _Thread_local int fbshim_resent_flag;

void fbshim_set_thread_resent(int resent) { fbshim_resent_flag = resent; }

int fbshim_thread_resent(void) { return fbshim_resent_flag; }

static _Thread_local int fbshim_kill_suidgid;

void fbshim_set_thread_kill_suidgid(int kill) { fbshim_kill_suidgid = kill; }

int fbshim_thread_kill_suidgid(void) { return fbshim_kill_suidgid; }

int fbshim_request_kills_suidgid(const void *buf, size_t n) {
    const struct fuse_in_header *h = buf;
    const char *arg = (const char *)buf + sizeof *h;
    if (n < sizeof *h) return 0;
    switch (h->opcode) {
    case FUSE_WRITE:
        if (n < sizeof *h + sizeof(struct fuse_write_in)) return 0;
        return (((const struct fuse_write_in *)arg)->write_flags & FUSE_WRITE_KILL_SUIDGID) != 0;
    case FUSE_SETATTR:
        if (n < sizeof *h + sizeof(struct fuse_setattr_in)) return 0;
        return (((const struct fuse_setattr_in *)arg)->valid & FATTR_KILL_SUIDGID) != 0;
    case FUSE_OPEN:
        if (n < sizeof *h + sizeof(struct fuse_open_in)) return 0;
        return (((const struct fuse_open_in *)arg)->open_flags & FUSE_OPEN_KILL_SUIDGID) != 0;
    case FUSE_CREATE:
        if (n < sizeof *h + sizeof(struct fuse_create_in)) return 0;
        return (((const struct fuse_create_in *)arg)->open_flags & FUSE_OPEN_KILL_SUIDGID) != 0;
    default:
        return 0;
    }
}

int fbshim_thread_fsetid(int on) {
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) != 0) return -1;
    // A thread acting as a non-root caller has no CAP_FSETID to give back.
    if (on && fbshim_thread_is_caller()) return 0;
    if (on) data[0].effective |= 1u << CAP_FSETID;
    else data[0].effective &= ~(1u << CAP_FSETID);
    return (int)syscall(SYS_capset, &hdr, data);
}

static _Thread_local uint64_t fbshim_unique;

void fbshim_set_thread_unique(uint64_t unique) { fbshim_unique = unique; }

uint64_t fbshim_thread_unique(void) { return fbshim_unique; }

ssize_t fbshim_writev(int fd, struct iovec *iov, int count) { return writev(fd, iov, count); }

void fbshim_conn_protocol(const struct fuse_conn_info *conn, unsigned *major,
                          unsigned *minor) {
    *major = conn->proto_major;
    *minor = conn->proto_minor;
}
