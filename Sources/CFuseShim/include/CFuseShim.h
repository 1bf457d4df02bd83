// CFuseShim: the few things Swift cannot call directly.
//
// Every symbol is prefixed fbshim_. Each wrapper says why it exists: a
// macro (FUSE_BUFVEC_INIT), a variadic call (prctl, ioctl), a struct with a
// flexible array member (struct file_handle), a _GNU_SOURCE-only
// declaration, a bit field, or an atomic on memory shared between processes.
#ifndef CFUSESHIM_H
#define CFUSESHIM_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdint.h>
#include <spawn.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---------------------------------------------------------------------------
// File handles (name_to_handle_at / open_by_handle_at).
// struct file_handle ends in a flexible array; Swift cannot allocate it.

/// Largest handle fusebench stores (MAX_HANDLE_SZ in the kernel).
#define FBSHIM_MAX_HANDLE 128

/// name_to_handle_at(dirfd, path, ..., flags) copying the opaque bytes into
/// `bytes` (FBSHIM_MAX_HANDLE long). Returns the handle length, or -1 with
/// errno set.
int fbshim_name_to_handle(int dirfd, const char *path, int flags,
                          uint8_t *bytes, int *handle_type, int *mount_id);

/// open_by_handle_at(mount_fd, handle, flags). Returns an fd or -1/errno.
int fbshim_open_by_handle(int mount_fd, int handle_type, const uint8_t *bytes,
                          int length, int flags);

// ---------------------------------------------------------------------------
// libfuse helpers.

/// fuse_reply_data from a file descriptor at an offset: FUSE_BUFVEC_INIT is
/// a macro, so the bufvec is built here. libfuse splices when the
/// connection wants FUSE_CAP_SPLICE_WRITE (copying pages, never moving them).
int fbshim_reply_fd_data(fuse_req_t req, int fd, size_t size, off_t off);

/// Copies a request's data buffer (write_buf) into `fd` at `off` with
/// fuse_buf_copy; returns bytes written or -errno. FUSE_BUFVEC_INIT again.
ssize_t fbshim_write_buf_to_fd(struct fuse_bufvec *in, int fd, off_t off);

/// libfuse's version string (fuse_pkgversion) and numeric version.
const char *fbshim_libfuse_version(void);

/// The session's negotiated protocol: proto_major/minor from fuse_conn_info.
void fbshim_conn_protocol(const struct fuse_conn_info *conn,
                          unsigned *major, unsigned *minor);

// ---------------------------------------------------------------------------
// Linux calls declared only under _GNU_SOURCE, or variadic.

/// renameat2(2).
int fbshim_renameat2(int olddirfd, const char *oldpath, int newdirfd,
                     const char *newpath, unsigned int flags);
/// copy_file_range(2).
ssize_t fbshim_copy_file_range(int fd_in, off_t *off_in, int fd_out,
                               off_t *off_out, size_t len, unsigned int flags);
/// fallocate(2).
int fbshim_fallocate(int fd, int mode, off_t offset, off_t len);

/// f_type of the file system holding `fd` (fstatfs; <sys/vfs.h> is not in
/// Glibc's module map); -1 with errno set on failure.
long fbshim_fs_type(int fd);
/// unshare(CLONE_NEWNS) and then make every mount private (MS_REC|MS_PRIVATE)
/// so nothing mounted afterwards propagates to the parent namespace.
/// Affects the calling thread only: call it, then exec.
int fbshim_enter_private_mount_namespace(void);
/// mount(2) of a FUSE file system on an already-open /dev/fuse fd.
int fbshim_mount_fuse(int fuse_fd, const char *mountpoint, const char *fsname,
                      const char *subtype, const char *extra_options);
/// umount2(2).
int fbshim_umount2(const char *target, int flags);
/// mount(2) of the fusectl file system (for /sys/fs/fuse/connections).
int fbshim_mount_fusectl(const char *target);
/// strerrorname_np(3): "ENOENT" for ENOENT; NULL when unknown.
const char *fbshim_errno_name(int err);
/// Constants that Swift's Glibc module hides (it is not built with
/// _GNU_SOURCE): O_PATH, AT_EMPTY_PATH, O_DIRECT, O_NOATIME, SEEK_DATA.
extern const int fbshim_O_PATH;
extern const int fbshim_AT_EMPTY_PATH;
extern const int fbshim_O_DIRECT;
extern const long fbshim_UTIME_NOW;
extern const long fbshim_UTIME_OMIT;
extern const int fbshim_RENAME_NOREPLACE;
extern const int fbshim_RENAME_EXCHANGE;
extern const int fbshim_O_NOATIME;
extern const int fbshim_SEEK_DATA;
/// The xattr calls: <sys/xattr.h> is not part of Swift's Glibc module.
int fbshim_setxattr(const char *path, const char *name, const void *value,
                    size_t size, int flags);
ssize_t fbshim_getxattr(const char *path, const char *name, void *value,
                        size_t size);
ssize_t fbshim_listxattr(const char *path, char *list, size_t size);
int fbshim_removexattr(const char *path, const char *name);
/// Writes a bare notification header {len=16, error=code, unique=0} to a
/// /dev/fuse descriptor: FUSE_NOTIFY_RESEND (7) and FUSE_NOTIFY_INC_EPOCH
/// (8) have no payload and no libfuse 3.14 API.
int fbshim_notify_bare(int fuse_fd, int code);
/// fuse_lowlevel_notify_inval_inode / _inval_entry (plain wrappers kept
/// here so that every raw notification lives in one file).
int fbshim_notify_inval_inode(struct fuse_session *se, uint64_t ino, int64_t off, int64_t len);
int fbshim_notify_inval_entry(struct fuse_session *se, uint64_t parent, const char *name, size_t namelen);
/// FUSE_NOTIFY_INVAL_ENTRY with FUSE_EXPIRE_ONLY (protocol 7.38): the
/// dentry expires (the next walk looks it up again) without being unhashed,
/// so a process whose working directory it is keeps it. Written straight to
/// the session's descriptor; returns the bytes written, or -1.
ssize_t fbshim_notify_expire_entry(struct fuse_session *se, uint64_t parent, const char *name, size_t namelen);
/// Installs custom I/O on a session (fuse_session_custom_io) with the
/// read/writev/splice functions below, which call back into `userdata`'s
/// Swift handlers.
typedef ssize_t (*fbshim_read_fn)(int fd, void *buf, size_t len, void *userdata);
typedef ssize_t (*fbshim_writev_fn)(int fd, struct iovec *iov, int count, void *userdata);
int fbshim_session_custom_io(struct fuse_session *se, int fd, fbshim_read_fn rd, fbshim_writev_fn wr,
                             int with_splice);
/// Plain writev(2) (the default path of the custom writev).
ssize_t fbshim_writev(int fd, struct iovec *iov, int count);
/// Per-thread flag: the request this thread read last was resent by the
/// kernel (bit 63 of its unique). libfuse serves a request on the thread
/// that read it, so the op callback can ask.
void fbshim_set_thread_resent(int resent);
int fbshim_thread_resent(void);
/// Per-thread flag: the request this thread read last asks the server to
/// kill suid/sgid (FUSE_HANDLE_KILLPRIV_V2: a WRITE with
/// FUSE_WRITE_KILL_SUIDGID, a SETATTR with FATTR_KILL_SUIDGID, an OPEN or
/// CREATE with FUSE_OPEN_KILL_SUIDGID). The kernel sets these when the
/// caller lacks CAP_FSETID.
void fbshim_set_thread_kill_suidgid(int kill);
int fbshim_thread_kill_suidgid(void);
/// Whether a raw request (header and argument, `n` bytes) carries one of
/// the kill-suid/sgid flags above.
int fbshim_request_kills_suidgid(const void *buf, size_t n);
/// The 64 flags a raw FUSE_INIT request offers (flags, and flags2 when
/// FUSE_INIT_EXT is set); 0 for anything else.
uint64_t fbshim_init_offered_flags(const void *buf, size_t n);
/// Adds `flags` to an INIT reply as libfuse 3.14 writes it (flags2 and
/// FUSE_INIT_EXT for the high ones, which libfuse 3.14 cannot set) and,
/// when not 0, sets max_stack_depth (FUSE passthrough). 1 when it did.
int fbshim_init_reply_amend(struct iovec *iov, int count, uint64_t flags, uint32_t max_stack_depth);
/// FUSE passthrough (passthrough.c): FUSE_DEV_IOC_BACKING_OPEN of `fd` on
/// the connection's /dev/fuse descriptor: the backing id, or -errno.
int fbshim_backing_open(int fuse_fd, int fd);
/// FUSE_DEV_IOC_BACKING_CLOSE: 0 or -errno.
int fbshim_backing_close(int fuse_fd, int id);
/// Per thread: the backing id the open or create reply this thread writes
/// next must carry (0: none), and the node it was acquired for. `take`
/// returns them and clears them.
void fbshim_set_thread_backing(int32_t id, uint64_t nodeid);
int32_t fbshim_take_thread_backing(uint64_t *nodeid);
/// Makes an OPEN or CREATE reply (header, then fuse_open_out, or
/// fuse_entry_out and fuse_open_out) a passthrough open of `backing_id`
/// (FOPEN_PASSTHROUGH, which excludes FOPEN_KEEP_CACHE). 1 when it did.
int fbshim_open_reply_passthrough(struct iovec *iov, int count, int32_t backing_id);
/// The connection's backing files by node id, shared by its server
/// instances through a file mapped MAP_SHARED (`path`; NULL: anonymous,
/// this process only). `capacity` is a power of two; `reset` empties it
/// (a fresh connection). NULL with errno on failure.
struct fbshim_backing_table;
struct fbshim_backing_table *fbshim_backing_table_map(const char *path, uint32_t capacity, int reset);
/// An open of node `nodeid` by server `instance`, whose backing descriptor
/// is `fd`: its backing id, registered now (`*fresh` = 1) or by an earlier
/// open of the node still open or idle; -errno (-ENOSPC: the table is full).
int fbshim_backing_acquire(struct fbshim_backing_table *t, int fuse_fd, uint64_t nodeid, int fd, uint32_t instance,
                           int *fresh);
/// Another passthrough open of `nodeid`, whose backing id is registered
/// (open or idle) and was last opened by server `instance`: the id, or 0
/// when there is none (an earlier instance's id is reused by acquire only,
/// after the node was opened, so a node that is gone is found gone).
int fbshim_backing_reuse(struct fbshim_backing_table *t, uint64_t nodeid, uint32_t instance);
/// The release of a passthrough open of `nodeid`: the last one leaves its
/// backing id registered but idle while fewer than `keep_idle` are, else
/// closes it. 1 when closed, 0 when kept, -ENOENT when unknown.
int fbshim_backing_release(struct fbshim_backing_table *t, int fuse_fd, uint64_t nodeid, uint32_t keep_idle);
/// The kernel forgot `nodeid`: its backing id, if idle, is closed. 1 when
/// closed.
int fbshim_backing_forget(struct fbshim_backing_table *t, int fuse_fd, uint64_t nodeid);
/// Backing ids registered with no open now.
uint64_t fbshim_backing_idle(struct fbshim_backing_table *t);
/// FUSE over io_uring (uring.c): one queue per CPU, `depth` entries each,
/// served by a thread per queue through libfuse (fuse_session_process_buf).
/// `on_request` sees every request as /dev/fuse would deliver it, on the
/// thread that serves it, before libfuse does. NULL with `*err` (an errno:
/// EINVAL or EOPNOTSUPP when the connection has no io_uring) on failure.
struct fbshim_uring;
typedef void (*fbshim_uring_request_fn)(void *ctx, const void *buf, size_t n);
struct fbshim_uring *fbshim_uring_start(struct fuse_session *se, int fuse_fd, int depth, size_t max_write,
                                        fbshim_uring_request_fn on_request, void *ctx, int *err);
/// Whether the calling thread is a queue thread serving a request now: its
/// reply must go to fbshim_uring_reply, not to /dev/fuse.
int fbshim_uring_thread_has_request(void);
/// Commits the reply (header, then payload) of the calling queue thread's
/// request and fetches the next: bytes taken, or -errno.
int fbshim_uring_reply(struct iovec *iov, int count);
/// One STATFS of `path` (the mountpoint) from a thread on each queue's CPU:
/// its completion on a new entry makes the kernel hand that queue the
/// requests it queued while the queue had no entry (a registration alone
/// does not: fs/fuse/dev_uring.c, fuse_uring_do_register). The number of
/// queues that answered.
int fbshim_uring_kick(struct fbshim_uring *u, const char *path);
/// Ends the queue threads (before the session is destroyed) and waits for
/// them.
void fbshim_uring_stop(struct fbshim_uring *u);
/// Requests served through the rings so far, and the number of queues.
uint64_t fbshim_uring_requests(const struct fbshim_uring *u);
int fbshim_uring_queues(const struct fbshim_uring *u);
/// Raises or lowers CAP_FSETID in the calling thread's effective set
/// (capabilities are per thread): lowered, the backing file system kills
/// suid/sgid on write and truncate as it would for the FUSE caller.
int fbshim_thread_fsetid(int on);
/// Per-thread: the unique of the request this thread read last, with the
/// resend bit cleared.
void fbshim_set_thread_unique(uint64_t unique);
uint64_t fbshim_thread_unique(void);
/// setrlimit(RLIMIT_CORE, 0): an injected crash leaves no core file.
void fbshim_disable_core_dumps(void);
/// Starts the teardown holder: a process sharing this one's address space
/// (CLONE_VM) that exits `delay_ms` after this process has exited, so that
/// this process's death does not tear its address space down on the spot
/// (milliseconds of CPU in the kernel, during which the CPU is not
/// preemptible). Its pid, or -1. Call before starting threads.
int fbshim_defer_teardown(int delay_ms);
/// A clean exit: the holder goes at once.
void fbshim_release_teardown(void);
/// pidfd_open(2) and pidfd_send_signal(2): exact handles on processes.
int fbshim_pidfd_open(pid_t pid);
int fbshim_pidfd_send_signal(int pidfd, int sig);
/// The wait status of the exited child behind `pidfd` (as waitpid(2) gives
/// it), without reaping it (waitid with WNOWAIT); -1 while it runs.
int fbshim_peek_exit_status(int pidfd);
/// posix_spawn_file_actions_addclosefrom_np (glibc 2.34, _GNU_SOURCE only):
/// the child closes every descriptor from `lowfd` up, including the ones
/// it inherited without close-on-exec from whoever started us.
int fbshim_spawn_closefrom(posix_spawn_file_actions_t *actions, int lowfd);

/// Operations as the caller (caller.c): the calling thread takes `uid`,
/// `gid` and the supplementary groups of process `pid` as its file-system
/// credentials (nothing to do for root with gid 0); 0, or -1 with errno.
int fbshim_become_caller(uint32_t uid, uint32_t gid, int32_t pid);
/// Back to the server's own credentials (after a request made as a caller).
void fbshim_become_server(void);
/// The server's own credentials for a thread that has not set any yet: a
/// thread libfuse started from a worker holds that worker's last caller's.
/// A thread that has set them keeps them.
void fbshim_settle_thread(void);
/// Whether the calling thread acts as a non-root caller now.
int fbshim_thread_is_caller(void);
/// Around a step that needs the server's privileges inside a request made
/// as a caller (open_by_handle_at needs CAP_DAC_READ_SEARCH, which a
/// non-zero fsuid drops): root's fsuid and fsgid, then the caller's again.
void fbshim_server_section_begin(void);
void fbshim_server_section_end(void);
/// Sets the calling thread's fsuid, fsgid and supplementary groups (the
/// tests' callers of several users; a non-zero fsuid drops the file-system
/// capabilities from the thread's effective set, as for a real user).
int fbshim_thread_credentials(uint32_t uid, uint32_t gid, const uint32_t *groups, int count);
/// posix_spawn_file_actions_addchdir_np (glibc 2.29, _GNU_SOURCE only).
int fbshim_spawn_chdir(posix_spawn_file_actions_t *actions, const char *dir);
/// sendmsg/recvmsg of one datagram with up to `max_fds` descriptors
/// (SCM_RIGHTS): the control-message macros are not importable.
ssize_t fbshim_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
ssize_t fbshim_recv_with_fds(int sock, void *buf, size_t len, int *fds, int max_fds, int *nfds);
/// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC).
int fbshim_seqpacket_pair(int fds[2]);

#include "fbshim_stats.h"

/// SIGKILL to the calling process (the kill-after-N-requests fault), after
/// the death notice.
void fbshim_kill_self(void);
/// The death notice: a byte to the harness's notice pipe (set once at
/// start; -1: none), written by the crash hooks just before the process
/// dies, so that the harness learns of the death without polling.
void fbshim_set_death_notice_fd(int fd);
void fbshim_death_notice(void);
/// 1 when no thread of `pid` can take a request off a FUSE device any
/// more: every thread has exited, is exiting (PF_EXITING), or has SIGKILL
/// pending and sleeps in a system call other than a read of /dev/fuse (such
/// a thread never returns to user space to start one); 0 otherwise. From
/// /proc; for a process that was sent a fatal signal.
int fbshim_no_thread_reads_fuse(pid_t pid, struct fbshim_stats_region *stats);
/// A server thread about to read the device: marks it reading in `stats`
/// (taking a slot on its first read) and returns 1 if the harness has
/// stopped the server's reads (it is dead; the thread must not read), else
/// 0. Between the mark and the check, a full fence: either the harness sees
/// the thread reading, or the thread sees the stop.
int fbshim_reader_enter(struct fbshim_stats_region *stats);
/// The read returned: the thread serves what it read.
void fbshim_reader_leave(struct fbshim_stats_region *stats);
/// The harness: no thread of this (dead) server may start a read from now
/// on; then its readers found serving are out (fbshim_no_thread_reads_fuse).
void fbshim_stop_readers(struct fbshim_stats_region *stats);
/// The server: every read of the device goes through its readers (no
/// io_uring, no splice), so after the stop a thread that is none of them
/// is out too (fbshim_no_thread_reads_fuse).
void fbshim_set_readers_complete(struct fbshim_stats_region *stats);
/// Where fbshim_pin_threads puts threads: on the caller's CPU, on another
/// CPU the caller may use, or back on every CPU the caller may use.
enum { FBSHIM_CPU_MINE = 0, FBSHIM_CPU_OTHER = 1, FBSHIM_CPU_ANY = -1 };
/// The CPU the calling thread runs on now (sched_getcpu), or -1.
int fbshim_current_cpu(void);
/// Sets the affinity of every thread of `pid` as `where` says; threads
/// set, or -1. On a virtual machine whose idle vCPUs halt, a thread woken
/// on a halted vCPU waits for the host to run it, for milliseconds; the
/// caller's vCPU is awake.
int fbshim_pin_threads(pid_t pid, int where);
/// ppoll for POLLIN on fd1 and fd2 (-1: only fd1) up to timeout_ns
/// (UINT64_MAX: forever): 0 on timeout, -1 on error, else bit 0 for fd1
/// and bit 1 for fd2.
int fbshim_wait_readable2(int fd1, int fd2, uint64_t timeout_ns);

/// Counts one answered request (before its reply is written, so that a
/// client that sees the reply also sees the count): relaxed atomics, safe
/// across processes.
static inline void fbshim_stats_count(struct fbshim_stats_region *r, int op,
                                      int failed, uint64_t now_ns) {
    if (op < 0 || op >= FBSHIM_STATS_OPCODES) op = 0;
    struct fbshim_op_stats *s = &r->ops[op];
    __atomic_fetch_add(&s->count, 1, __ATOMIC_RELAXED);
    if (failed) __atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
    uint64_t n = __atomic_add_fetch(&r->requests, 1, __ATOMIC_RELAXED);
    uint64_t limit = __atomic_load_n(&r->kill_after_requests, __ATOMIC_RELAXED);
    if (limit != 0 && n >= limit) fbshim_kill_self();
    uint64_t zero = 0;
    __atomic_compare_exchange_n(&r->first_reply_ns, &zero, now_ns, 0,
                                __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    __atomic_store_n(&r->last_reply_ns, now_ns, __ATOMIC_RELAXED);
}

/// Records the service time of one request, from its callback's start to
/// its reply written (splice included).
static inline void fbshim_stats_time(struct fbshim_stats_region *r, int op,
                                     uint64_t ns) {
    if (op < 0 || op >= FBSHIM_STATS_OPCODES) op = 0;
    struct fbshim_op_stats *s = &r->ops[op];
    __atomic_fetch_add(&s->total_ns, ns, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->buckets[fbshim_hist_index(ns)], 1, __ATOMIC_RELAXED);
    uint64_t m = __atomic_load_n(&s->max_ns, __ATOMIC_RELAXED);
    while (ns > m && !__atomic_compare_exchange_n(&s->max_ns, &m, ns, 1,
                                                  __ATOMIC_RELAXED,
                                                  __ATOMIC_RELAXED)) {
    }
}

/// Counts one request read from /dev/fuse and its size.
static inline void fbshim_stats_received(struct fbshim_stats_region *r,
                                         uint32_t op, uint64_t bytes) {
    if (op >= FBSHIM_STATS_OPCODES) op = 0;
    __atomic_fetch_add(&r->io[op].received, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&r->io[op].in_bytes, bytes, __ATOMIC_RELAXED);
}

/// Per-thread: the opcode of the request this thread read last (0 before
/// any), which its reply's bytes are counted under.
void fbshim_set_thread_opcode(uint32_t op);
uint32_t fbshim_thread_opcode(void);

/// Counts bytes written to /dev/fuse by the calling thread, under the
/// opcode of the request it read last.
static inline void fbshim_stats_sent(struct fbshim_stats_region *r,
                                     uint64_t bytes) {
    uint32_t op = fbshim_thread_opcode();
    if (op >= FBSHIM_STATS_OPCODES) op = 0;
    __atomic_fetch_add(&r->io[op].out_bytes, bytes, __ATOMIC_RELAXED);
}

/// The region whose counters spliced replies add to (libfuse's
/// splice_send callback has no other way to reach it; one session per
/// process).
void fbshim_set_splice_stats(struct fbshim_stats_region *r);

/// Atomic add on a shared 64-bit counter.
static inline void fbshim_atomic_add(uint64_t *p, int64_t delta) {
    __atomic_fetch_add(p, (uint64_t)delta, __ATOMIC_RELAXED);
}

/// Raises a shared 64-bit value to `v` if it is below.
static inline void fbshim_atomic_max(uint64_t *p, uint64_t v) {
    uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (cur < v && !__atomic_compare_exchange_n(p, &cur, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
}

/// Atomic load of a shared 64-bit counter.
static inline uint64_t fbshim_atomic_load(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/// Atomic store of a shared 64-bit counter.
static inline void fbshim_atomic_store(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/// Store with release ordering: what was written before it is seen by a
/// reader whose acquire load sees this value (across processes too).
static inline void fbshim_atomic_store_release(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/// Load with acquire ordering (pairs with fbshim_atomic_store_release).
static inline uint64_t fbshim_atomic_load_acquire(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/// CLOCK_MONOTONIC in nanoseconds.
uint64_t fbshim_monotonic_ns(void);

/// Installs SIGINT/SIGTERM/SIGHUP handlers that only set a flag (a Swift
/// closure cannot be an async-signal-safe handler touching globals).
void fbshim_install_stop_signals(void);
/// The signal that asked to stop, or 0.
int fbshim_stop_requested(void);

#ifdef __cplusplus
}
#endif
#endif
