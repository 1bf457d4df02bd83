// Processes and mounts: the private mount namespace, mount(2) of a FUSE
// descriptor, fusectl, the monotonic clock, stop signals, pidfds, spawn
// file actions and descriptors over a socket (SCM_RIGHTS).
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

void fbshim_kill_self(void) { kill(getpid(), SIGKILL); }

void fbshim_disable_core_dumps(void) {
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
}

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

int fbshim_spawn_chdir(posix_spawn_file_actions_t *actions, const char *dir) {
    return posix_spawn_file_actions_addchdir_np(actions, dir);
}
