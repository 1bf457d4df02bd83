// Implementations of the CFuseShim wrappers; see the header for why each
// one exists.
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

int fbshim_name_to_handle(int dirfd, const char *path, int flags,
                          uint8_t *bytes, int *handle_type, int *mount_id) {
    union {
        struct file_handle fh;
        char space[sizeof(struct file_handle) + FBSHIM_MAX_HANDLE];
    } u;
    u.fh.handle_bytes = FBSHIM_MAX_HANDLE;
    if (name_to_handle_at(dirfd, path, &u.fh, mount_id, flags) != 0)
        return -1;
    memcpy(bytes, u.fh.f_handle, u.fh.handle_bytes);
    *handle_type = u.fh.handle_type;
    return (int)u.fh.handle_bytes;
}

int fbshim_open_by_handle(int mount_fd, int handle_type, const uint8_t *bytes,
                          int length, int flags) {
    union {
        struct file_handle fh;
        char space[sizeof(struct file_handle) + FBSHIM_MAX_HANDLE];
    } u;
    if (length < 0 || length > FBSHIM_MAX_HANDLE) {
        errno = EINVAL;
        return -1;
    }
    u.fh.handle_bytes = (unsigned)length;
    u.fh.handle_type = handle_type;
    memcpy(u.fh.f_handle, bytes, (size_t)length);
    return open_by_handle_at(mount_fd, &u.fh, flags);
}

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

void fbshim_conn_protocol(const struct fuse_conn_info *conn, unsigned *major,
                          unsigned *minor) {
    *major = conn->proto_major;
    *minor = conn->proto_minor;
}

int fbshim_renameat2(int olddirfd, const char *oldpath, int newdirfd,
                     const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

ssize_t fbshim_copy_file_range(int fd_in, off_t *off_in, int fd_out,
                               off_t *off_out, size_t len,
                               unsigned int flags) {
    return copy_file_range(fd_in, off_in, fd_out, off_out, len, flags);
}

int fbshim_fallocate(int fd, int mode, off_t offset, off_t len) {
    return fallocate(fd, mode, offset, len);
}

long fbshim_fs_type(int fd) {
    struct statfs s;
    if (fstatfs(fd, &s) != 0) return -1;
    return (long)s.f_type;
}

int fbshim_enter_private_mount_namespace(void) {
    if (unshare(CLONE_NEWNS) != 0) return -1;
    return mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

int fbshim_mount_fuse(int fuse_fd, const char *mountpoint, const char *fsname,
                      const char *subtype, const char *extra_options) {
    char data[512];
    int n = snprintf(data, sizeof data,
                     "fd=%d,rootmode=40000,user_id=0,group_id=0%s%s", fuse_fd,
                     (extra_options && *extra_options) ? "," : "",
                     extra_options ? extra_options : "");
    if (n < 0 || (size_t)n >= sizeof data) {
        errno = E2BIG;
        return -1;
    }
    char type[64];
    snprintf(type, sizeof type, "fuse.%s", subtype);
    return mount(fsname, mountpoint, type, MS_NOSUID | MS_NODEV, data);
}

int fbshim_umount2(const char *target, int flags) {
    return umount2(target, flags);
}

int fbshim_mount_fusectl(const char *target) {
    return mount("fusectl", target, "fusectl", 0, NULL);
}

const char *fbshim_errno_name(int err) { return strerrorname_np(err); }

uint64_t fbshim_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static volatile sig_atomic_t fbshim_stop_signal = 0;

static void fbshim_on_stop(int sig) { fbshim_stop_signal = sig; }

void fbshim_install_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fbshim_on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

int fbshim_stop_requested(void) { return fbshim_stop_signal; }


const int fbshim_O_PATH = O_PATH;
const int fbshim_AT_EMPTY_PATH = AT_EMPTY_PATH;
const int fbshim_O_DIRECT = O_DIRECT;
const long fbshim_UTIME_NOW = UTIME_NOW;
const long fbshim_UTIME_OMIT = UTIME_OMIT;
const int fbshim_RENAME_NOREPLACE = RENAME_NOREPLACE;
const int fbshim_RENAME_EXCHANGE = RENAME_EXCHANGE;

int fbshim_setxattr(const char *path, const char *name, const void *value,
                    size_t size, int flags) {
    return setxattr(path, name, value, size, flags);
}
ssize_t fbshim_getxattr(const char *path, const char *name, void *value,
                        size_t size) {
    return getxattr(path, name, value, size);
}
ssize_t fbshim_listxattr(const char *path, char *list, size_t size) {
    return listxattr(path, list, size);
}
int fbshim_removexattr(const char *path, const char *name) {
    return removexattr(path, name);
}

void fbshim_kill_self(void) { kill(getpid(), SIGKILL); }

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

void fbshim_disable_core_dumps(void) {
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
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

int fbshim_init_offers_killpriv_v2(const void *buf, size_t n) {
    const struct fuse_in_header *h = buf;
    if (n < sizeof *h + offsetof(struct fuse_init_in, flags) + sizeof(uint32_t) || h->opcode != FUSE_INIT) return 0;
    const struct fuse_init_in *in = (const void *)((const char *)buf + sizeof *h);
    return (in->flags & FUSE_HANDLE_KILLPRIV_V2) != 0;
}

int fbshim_init_reply_add_killpriv_v2(struct iovec *iov, int count) {
    if (count < 2 || iov[0].iov_len < sizeof(struct fuse_out_header)) return 0;
    if (((struct fuse_out_header *)iov[0].iov_base)->error != 0) return 0;
    if (iov[1].iov_len < offsetof(struct fuse_init_out, flags) + sizeof(uint32_t)) return 0;
    ((struct fuse_init_out *)iov[1].iov_base)->flags |= FUSE_HANDLE_KILLPRIV_V2;
    return 1;
}

int fbshim_thread_fsetid(int on) {
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) != 0) return -1;
    if (on) data[0].effective |= 1u << CAP_FSETID;
    else data[0].effective &= ~(1u << CAP_FSETID);
    return (int)syscall(SYS_capset, &hdr, data);
}

static _Thread_local uint64_t fbshim_unique;
void fbshim_set_thread_unique(uint64_t unique) { fbshim_unique = unique; }
uint64_t fbshim_thread_unique(void) { return fbshim_unique; }

ssize_t fbshim_writev(int fd, struct iovec *iov, int count) { return writev(fd, iov, count); }

int fbshim_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int fbshim_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int fbshim_spawn_closefrom(posix_spawn_file_actions_t *actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowfd);
}

ssize_t fbshim_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds) {
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int) * 16)];
    } c;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (nfds > 16) { errno = EINVAL; return -1; }
    if (nfds > 0) {
        memset(&c, 0, sizeof c);
        m.msg_control = c.space;
        m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(h), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do { n = sendmsg(sock, &m, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n;
}

ssize_t fbshim_recv_with_fds(int sock, void *buf, size_t len, int *fds, int max_fds, int *nfds) {
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int) * 16)];
    } c;
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = c.space;
    m.msg_controllen = sizeof c.space;
    ssize_t n;
    do { n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    *nfds = 0;
    if (n < 0) return n;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
        int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
            if (*nfds < max_fds) fds[(*nfds)++] = fd; else close(fd);
        }
    }
    return n;
}

int fbshim_seqpacket_pair(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
}
