// Operations as the caller: the worker thread takes the requesting process's
// fsuid, fsgid and supplementary groups for the backing system calls of a
// request, so that objects are owned, and permissions checked, as on the
// backing file system. Credentials are per thread in Linux; setfsuid and
// setfsgid are per-thread system calls, and setgroups is made as a raw
// system call (glibc's wrapper would change every thread of the process).
// Supplementary groups come from /proc/PID/status, cached per pid for a
// second.
#define _GNU_SOURCE
#include "CFuseShim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FB_MAX_GROUPS 64
#define FB_CACHE_SLOTS 256
#define FB_CACHE_TTL_NS 1000000000ull

struct fb_groups {
    pid_t pid;
    uint64_t expires;
    int count;
    gid_t list[FB_MAX_GROUPS];
};

static struct fb_groups fb_cache[FB_CACHE_SLOTS];
static pthread_mutex_t fb_cache_lock = PTHREAD_MUTEX_INITIALIZER;

/// The process's own groups, restored after each request made as a caller.
static gid_t fb_server_groups[FB_MAX_GROUPS];
static int fb_server_group_count = -1;
static pthread_once_t fb_server_once = PTHREAD_ONCE_INIT;

static _Thread_local int fb_as_caller;
/* Whether this thread has set its credentials itself: a thread that
   libfuse starts from a worker inherits that worker's credentials (its
   last caller's) with fb_as_caller 0, and until it sets its own, 0 says
   nothing about what it holds. */
static _Thread_local int fb_settled;
static _Thread_local uint32_t fb_caller_uid, fb_caller_gid;
static _Thread_local int fb_caller_ngroups;
static _Thread_local gid_t fb_caller_groups[FB_MAX_GROUPS];
/// The pid whose groups the thread holds now, and until when they count.
static _Thread_local pid_t fb_caller_pid;
static _Thread_local uint64_t fb_caller_expires;

static void fb_save_server_groups(void) {
    int n = getgroups(FB_MAX_GROUPS, fb_server_groups);
    fb_server_group_count = n < 0 ? 0 : n;
}

static uint64_t fb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/// Reads the "Groups:" line of /proc/PID/status; -1 when it cannot.
static int fb_read_groups(pid_t pid, gid_t *out) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *line = strstr(buf, "\nGroups:");
    if (!line) return -1;
    line += 8;
    int count = 0;
    while (*line && *line != '\n' && count < FB_MAX_GROUPS) {
        while (*line == ' ' || *line == '\t') line++;
        if (*line < '0' || *line > '9') break;
        unsigned long g = strtoul(line, &line, 10);
        out[count++] = (gid_t)g;
    }
    return count;
}

/// The supplementary groups of `pid`, from the cache or /proc.
static int fb_groups_of(pid_t pid, gid_t *out) {
    uint64_t now = fb_now();
    struct fb_groups *slot = &fb_cache[(unsigned)pid % FB_CACHE_SLOTS];
    pthread_mutex_lock(&fb_cache_lock);
    if (slot->pid == pid && slot->expires > now) {
        int n = slot->count;
        memcpy(out, slot->list, sizeof(gid_t) * (size_t)n);
        pthread_mutex_unlock(&fb_cache_lock);
        return n;
    }
    pthread_mutex_unlock(&fb_cache_lock);
    int n = fb_read_groups(pid, out);
    if (n < 0) return 0;
    pthread_mutex_lock(&fb_cache_lock);
    slot->pid = pid;
    slot->expires = now + FB_CACHE_TTL_NS;
    slot->count = n;
    memcpy(slot->list, out, sizeof(gid_t) * (size_t)n);
    pthread_mutex_unlock(&fb_cache_lock);
    return n;
}

/// The thread's file-system credentials (setgroups as a raw system call:
/// glibc's wrapper would change every thread).
static int fb_apply(uint32_t uid, uint32_t gid, const gid_t *groups, int n) {
    if (syscall(SYS_setgroups, n, groups) != 0) return -1;
    setfsgid(gid);
    setfsuid(uid);
    return 0;
}

int fbshim_become_caller(uint32_t uid, uint32_t gid, int32_t pid) {
    if (uid == 0 && gid == 0) {
        fbshim_become_server();
        return 0;
    }
    pthread_once(&fb_server_once, fb_save_server_groups);
    // Same caller as the thread's last request, its groups still fresh:
    // nothing to look up or change.
    if (fb_as_caller && uid == fb_caller_uid && gid == fb_caller_gid && pid == fb_caller_pid &&
        fb_now() < fb_caller_expires)
        return 0;
    gid_t groups[FB_MAX_GROUPS];
    int n = uid == 0 || pid <= 0 ? 0 : fb_groups_of((pid_t)pid, groups);
    fb_caller_pid = pid;
    fb_caller_expires = fb_now() + FB_CACHE_TTL_NS;
    // The thread keeps the last caller's credentials: the next request of
    // the same caller (the common case) changes nothing.
    if (fb_as_caller && uid == fb_caller_uid && gid == fb_caller_gid && n == fb_caller_ngroups &&
        memcmp(groups, fb_caller_groups, sizeof(gid_t) * (size_t)n) == 0)
        return 0;
    if (fb_apply(uid, gid, groups, n) != 0) return -1;
    fb_settled = 1;
    fb_as_caller = 1;
    fb_caller_uid = uid;
    fb_caller_gid = gid;
    fb_caller_ngroups = n;
    memcpy(fb_caller_groups, groups, sizeof(gid_t) * (size_t)n);
    return 0;
}

void fbshim_become_server(void) {
    if (!fb_as_caller && fb_settled) return;
    // Saved by the first fbshim_become_caller or fbshim_become_server of
    // the process, before any thread switched.
    pthread_once(&fb_server_once, fb_save_server_groups);
    fb_caller_pid = 0;
    if (fb_apply(0, 0, fb_server_groups, fb_server_group_count) != 0) return;
    fb_settled = 1;
    fb_as_caller = 0;
}

void fbshim_settle_thread(void) {
    if (!fb_settled) fbshim_become_server();
}

int fbshim_thread_is_caller(void) { return fb_as_caller && fb_caller_uid != 0; }

void fbshim_server_section_begin(void) {
    if (!fb_as_caller) return;
    setfsuid(0);
    setfsgid(0);
}

void fbshim_server_section_end(void) {
    if (!fb_as_caller) return;
    setfsgid(fb_caller_gid);
    setfsuid(fb_caller_uid);
}

int fbshim_thread_credentials(uint32_t uid, uint32_t gid, const uint32_t *groups, int count) {
    gid_t list[FB_MAX_GROUPS];
    if (count < 0 || count > FB_MAX_GROUPS) { errno = EINVAL; return -1; }
    for (int i = 0; i < count; i++) list[i] = (gid_t)groups[i];
    return fb_apply(uid, gid, list, count);
}
