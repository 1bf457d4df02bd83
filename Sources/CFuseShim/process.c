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
#include <dirent.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <poll.h>
#include <sys/wait.h>

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

static int fbshim_notice_fd = -1;

void fbshim_set_death_notice_fd(int fd) { fbshim_notice_fd = fd; }

void fbshim_death_notice(void) {
    if (fbshim_notice_fd >= 0) {
        ssize_t r = write(fbshim_notice_fd, "d", 1);
        (void)r;
    }
}

void fbshim_kill_self(void) {
    fbshim_death_notice();
    kill(getpid(), SIGKILL);
}

/// Reads a small /proc file into buf (NUL-terminated); length or -1.
static ssize_t read_small(const char *path, char *buf, size_t len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    return n;
}

/// Whether descriptor `fd` of process `pid` is a FUSE device.
static int is_fuse_fd(pid_t pid, long fd) {
    char path[96], target[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%ld", (int)pid, fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) return 0;
    target[n] = 0;
    return strcmp(target, "/dev/fuse") == 0;
}

/// Field `field` (1-based, as in proc(5)) of a /proc stat line, from `after`,
/// the text after the command's closing parenthesis (field 3 on); 0 if absent.
static unsigned long long stat_field(const char *after, int field) {
    const char *p = after;
    for (int f = 3; f <= field; f++) {
        while (*p == ' ') p++;
        if (!*p) return 0;
        if (f == field) return strtoull(p, NULL, 10);
        while (*p && *p != ' ') p++;
    }
    return 0;
}

static __thread int fb_reader_slot = -1;

int fbshim_reader_enter(struct fbshim_stats_region *s) {
    if (fb_reader_slot < 0) {
        uint32_t i = __atomic_fetch_add(&s->reader_count, 1, __ATOMIC_SEQ_CST);
        fb_reader_slot = i < FBSHIM_READERS ? (int)i : FBSHIM_READERS;
        if (i < FBSHIM_READERS) __atomic_store_n(&s->readers[i].tid, (int32_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
    }
    if (fb_reader_slot < FBSHIM_READERS)
        __atomic_store_n(&s->readers[fb_reader_slot].state, FBSHIM_READER_READING, __ATOMIC_SEQ_CST);
    return __atomic_load_n(&s->read_stop, __ATOMIC_SEQ_CST) != 0;
}

void fbshim_reader_leave(struct fbshim_stats_region *s) {
    if (fb_reader_slot >= 0 && fb_reader_slot < FBSHIM_READERS)
        __atomic_store_n(&s->readers[fb_reader_slot].state, FBSHIM_READER_SERVING, __ATOMIC_RELEASE);
}

void fbshim_set_readers_complete(struct fbshim_stats_region *s) {
    __atomic_store_n(&s->readers_complete, 1, __ATOMIC_SEQ_CST);
}

void fbshim_stop_readers(struct fbshim_stats_region *s) {
    __atomic_store_n(&s->read_stop, 1, __ATOMIC_SEQ_CST);
}

/// Whether thread `tid` is out by the reader table of `s`, once the stop
/// is set: a reader found serving sees the stop before its next read and
/// never reads again; and in a server whose every read of the device goes
/// through its readers (readers_complete), a thread in no slot never reads
/// at all (a main thread asleep on a futex, woken by SIGKILL and queued for
/// a CPU for milliseconds, say). A thread taking its slot as the harness
/// looks (its tid not stored yet) sees the stop before it reads
/// (fbshim_reader_enter: all sequentially consistent).
static int out_by_readers(struct fbshim_stats_region *s, pid_t tid) {
    if (!s || !__atomic_load_n(&s->read_stop, __ATOMIC_SEQ_CST)) return 0;
    uint32_t n = __atomic_load_n(&s->reader_count, __ATOMIC_SEQ_CST);
    for (uint32_t i = 0; i < n && i < FBSHIM_READERS; i++)
        if (__atomic_load_n(&s->readers[i].tid, __ATOMIC_SEQ_CST) == (int32_t)tid)
            return __atomic_load_n(&s->readers[i].state, __ATOMIC_SEQ_CST) == FBSHIM_READER_SERVING;
    /* In no slot: out if no reader went untracked and every read is a reader's. */
    return n <= FBSHIM_READERS && __atomic_load_n(&s->readers_complete, __ATOMIC_SEQ_CST);
}

int fbshim_no_thread_reads_fuse(pid_t pid, struct fbshim_stats_region *stats) {
    char dirpath[64];
    snprintf(dirpath, sizeof dirpath, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dirpath);
    if (!d) return 1; /* gone */
    int safe = 1;
    struct dirent *e;
    char path[128], buf[1024];
    while (safe && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, e->d_name);
        if (read_small(path, buf, sizeof buf) < 0) continue; /* the thread is gone */
        char *p = strrchr(buf, ')');
        if (!p) continue;
        char state = 0;
        unsigned long flags = 0;
        /* ") S ppid pgrp session tty_nr tpgid flags" */
        if (sscanf(p + 1, " %c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2) continue;
        if (state == 'Z' || state == 'X' || state == 'x' || (flags & 0x4 /* PF_EXITING */)) continue;
        /* A reader of ours serving what it read (in the kernel for an
           FSYNC of 10 ms, say, or held by a crash handler): it sees the
           stop before any read it would start. A thread of ours that is no
           reader never reads the device. */
        if (out_by_readers(stats, (pid_t)atoi(e->d_name))) continue;
        /* Alive and not yet exiting: safe only once the kernel has queued
           SIGKILL for it (a fatal signal or an exit of the group does), and
           while it sleeps in a system call that is not a read of a FUSE
           device: such a thread never returns to user space, so it can no
           longer start a read. A thread merely asleep elsewhere is not safe:
           a process whose crash handler is still running (the Swift runtime's
           backtracer holds the other threads for a few hundred ms) lets them
           go on and read requests that would then be lost with it. */
        /* Field 31, the thread's own pending signals: a fatal signal to
           the process, an exit of the group and a core dump all add
           SIGKILL to every thread's own set (complete_signal,
           zap_other_threads, zap_process in kernel/signal.c and
           fs/coredump.c). */
        if (!(stat_field(p + 1, 31) & (1ULL << (SIGKILL - 1)))) { safe = 0; break; }
        snprintf(path, sizeof path, "/proc/%d/task/%s/syscall", (int)pid, e->d_name);
        if (read_small(path, buf, sizeof buf) < 0) continue;
        long nr = -1, arg0 = -1;
        if (sscanf(buf, "%ld 0x%lx", &nr, &arg0) < 1) { safe = 0; break; } /* "running" */
        switch (nr) {
        case SYS_read: case SYS_readv: case SYS_pread64: case SYS_preadv: case SYS_preadv2: case SYS_splice:
            if (is_fuse_fd(pid, arg0)) safe = 0;
            break;
        case SYS_io_uring_enter: case -1: /* a ring, or blocked outside a system call */
            safe = 0;
            break;
        default:
            break;
        }
    }
    closedir(d);
    return safe;
}

int fbshim_current_cpu(void) { return sched_getcpu(); }

int fbshim_pin_threads(pid_t pid, int where) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return -1;
    if (where != FBSHIM_CPU_ANY) {
        int cpu = sched_getcpu();
        if (cpu < 0) return -1;
        if (where == FBSHIM_CPU_OTHER) {
            int other = -1;
            for (int c = 0; c < CPU_SETSIZE && other < 0; c++)
                if (c != cpu && CPU_ISSET(c, &set)) other = c;
            if (other < 0) return 0;
            cpu = other;
        }
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
    }
    char dirpath[64];
    snprintf(dirpath, sizeof dirpath, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dirpath);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' &&
            sched_setaffinity((pid_t)atoi(e->d_name), sizeof set, &set) == 0) n++;
    closedir(d);
    return n;
}

int fbshim_wait_readable2(int fd1, int fd2, uint64_t timeout_ns) {
    struct pollfd p[2] = {{fd1, POLLIN, 0}, {fd2, POLLIN, 0}};
    struct timespec ts = {(time_t)(timeout_ns / 1000000000ull), (long)(timeout_ns % 1000000000ull)};
    int r;
    do {
        r = ppoll(p, fd2 >= 0 ? 2 : 1, timeout_ns == UINT64_MAX ? NULL : &ts, NULL);
    } while (r < 0 && errno == EINTR);
    if (r <= 0) return r;
    return (p[0].revents ? 1 : 0) | ((fd2 >= 0 && p[1].revents) ? 2 : 0);
}

void fbshim_disable_core_dumps(void) {
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
}

/* The teardown holder: a process that shares the server's address space
   (CLONE_VM, not a thread of it), so that the server's death does not tear
   that address space down at once. Its only work is raw system calls on
   its own stack: it shares the server's memory and thread pointer, so it
   must touch neither errno nor anything else of libc's. */
static long raw3(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

static int holder_pipe = -1;

struct holder_args {
    int pipe_read;
    int delay_ms;
};

static int holder_main(void *p) {
    struct holder_args *a = p;
    int fd = a->pipe_read;
    long delay_ns = (long)a->delay_ms * 1000000L;
    /* Its table is a copy of the server's: keep only the pipe's read end. */
    if (fd > 0) raw3(436 /* close_range */, 0, fd - 1, 0);
    raw3(436, fd + 1, ~0U, 0);
    raw3(SYS_prctl, 15 /* PR_SET_NAME */, (long)"fb-teardown", 0);
    /* Until the server's last descriptor of the pipe's write end is gone
       (the server has died), or a 'q' (it is exiting cleanly: no delay). */
    char b = 0;
    long n;
    while ((n = raw3(SYS_read, fd, (long)&b, 1)) != 0) {
        if (n == 1 && b == 'q') raw3(SYS_exit, 0, 0, 0);
    }
    struct timespec ts = {delay_ns / 1000000000L, delay_ns % 1000000000L};
    raw3(SYS_nanosleep, (long)&ts, 0, 0);
    raw3(SYS_exit, 0, 0, 0);
    return 0;
}

int fbshim_defer_teardown(int delay_ms) {
    static struct holder_args args;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    size_t size = 64 * 1024;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -1;
    args.pipe_read = fds[0];
    args.delay_ms = delay_ms;
    /* Not CLONE_FILES: the holder's table is a copy, in which it closes
       everything but the pipe's read end (a FUSE descriptor it kept would
       keep the connection alive). */
    pid_t pid = clone(holder_main, stack + size, CLONE_VM | CLONE_UNTRACED, &args);
    if (pid < 0) return -1;
    close(fds[0]);
    /* The write end stays open in this process until it dies. */
    holder_pipe = fds[1];
    return (int)pid;
}

void fbshim_release_teardown(void) {
    if (holder_pipe >= 0) {
        ssize_t r = write(holder_pipe, "q", 1);
        (void)r;
    }
}

int fbshim_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int fbshim_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

int fbshim_peek_exit_status(int pidfd) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return -1;
    switch (info.si_code) {
    case CLD_EXITED: return (info.si_status & 0xff) << 8;
    case CLD_KILLED: return info.si_status & 0x7f;
    case CLD_DUMPED: return (info.si_status & 0x7f) | 0x80;
    default: return -1;
    }
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
