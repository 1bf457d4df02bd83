// FUSE passthrough (kernel 6.9+), which libfuse 3.14 does not know: the
// INIT flags it needs, the backing-file ioctls, the open reply's backing id,
// and the connection's table of registered backing files, shared by every
// server instance on the connection.
//
// Why a shared table: the kernel lets all passthrough opens of one FUSE
// inode use one backing file object only (fs/fuse/iomode.c,
// fuse_inode_uncached_io_start: "deny conflicting backing files on same
// fuse inode", -EBUSY, which fuse_file_io_open turns into EIO for the
// opener). A restarted server that registered a fresh backing file for an
// inode that files opened before the crash still hold would fail every
// such open. The table lives in a file mapped MAP_SHARED, so the next
// instance reuses the ids the dead one registered (they stay registered on
// the connection, which the harness keeps alive).
#define _GNU_SOURCE
#include "CFuseShim.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fuse.h>

// The kernel ABI (include/uapi/linux/fuse.h, 7.40), spelled out here because
// Debian 12's headers and libfuse 3.14 predate it.
struct fbshim_backing_map {
    int32_t fd;
    uint32_t flags;
    uint64_t padding;
};
#define FBSHIM_DEV_IOC_BACKING_OPEN _IOW(229, 1, struct fbshim_backing_map)
#define FBSHIM_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)
#define FBSHIM_FOPEN_PASSTHROUGH (1u << 7)
#define FBSHIM_FOPEN_KEEP_CACHE (1u << 1)
#define FBSHIM_INIT_EXT (1ull << 30)

// fuse_init_in / fuse_init_out as of protocol 7.40 (offsets only).
#define INIT_IN_FLAGS 12
#define INIT_IN_FLAGS2 16
#define INIT_OUT_FLAGS 12
#define INIT_OUT_FLAGS2 32
#define INIT_OUT_MAX_STACK_DEPTH 36
#define INIT_OUT_MIN_SIZE 40

uint64_t fbshim_init_offered_flags(const void *buf, size_t n) {
    const struct fuse_in_header *h = buf;
    if (n < sizeof *h + INIT_IN_FLAGS + 4 || h->opcode != FUSE_INIT) return 0;
    const uint8_t *arg = (const uint8_t *)buf + sizeof *h;
    uint32_t lo, hi = 0;
    memcpy(&lo, arg + INIT_IN_FLAGS, 4);
    if ((lo & FBSHIM_INIT_EXT) && n >= sizeof *h + INIT_IN_FLAGS2 + 4) memcpy(&hi, arg + INIT_IN_FLAGS2, 4);
    return (uint64_t)hi << 32 | lo;
}

int fbshim_init_reply_amend(struct iovec *iov, int count, uint64_t flags, uint32_t max_stack_depth) {
    if (count < 2 || iov[0].iov_len < sizeof(struct fuse_out_header)) return 0;
    if (((struct fuse_out_header *)iov[0].iov_base)->error != 0) return 0;
    if (iov[1].iov_len < INIT_OUT_MIN_SIZE) return 0;
    uint8_t *out = iov[1].iov_base;
    uint32_t lo, hi;
    memcpy(&lo, out + INIT_OUT_FLAGS, 4);
    memcpy(&hi, out + INIT_OUT_FLAGS2, 4);
    lo |= (uint32_t)flags;
    hi |= (uint32_t)(flags >> 32);
    if (hi) lo |= FBSHIM_INIT_EXT;
    memcpy(out + INIT_OUT_FLAGS, &lo, 4);
    memcpy(out + INIT_OUT_FLAGS2, &hi, 4);
    if (max_stack_depth) memcpy(out + INIT_OUT_MAX_STACK_DEPTH, &max_stack_depth, 4);
    return 1;
}

int fbshim_backing_open(int fuse_fd, int fd) {
    struct fbshim_backing_map map = {.fd = fd};
    int id = ioctl(fuse_fd, FBSHIM_DEV_IOC_BACKING_OPEN, &map);
    return id < 0 ? -errno : id;
}

int fbshim_backing_close(int fuse_fd, int id) {
    uint32_t u = (uint32_t)id;
    return ioctl(fuse_fd, FBSHIM_DEV_IOC_BACKING_CLOSE, &u) < 0 ? -errno : 0;
}

static _Thread_local int32_t fbshim_pending_backing;
static _Thread_local uint64_t fbshim_pending_nodeid;

void fbshim_set_thread_backing(int32_t id, uint64_t nodeid) {
    fbshim_pending_backing = id;
    fbshim_pending_nodeid = nodeid;
}

int32_t fbshim_take_thread_backing(uint64_t *nodeid) {
    int32_t id = fbshim_pending_backing;
    *nodeid = fbshim_pending_nodeid;
    fbshim_pending_backing = 0;
    return id;
}

int fbshim_open_reply_passthrough(struct iovec *iov, int count, int32_t backing_id) {
    if (count < 2 || iov[0].iov_len < sizeof(struct fuse_out_header)) return 0;
    if (((struct fuse_out_header *)iov[0].iov_base)->error != 0) return 0;
    // OPEN: struct fuse_open_out (16 bytes); CREATE: fuse_entry_out, then it.
    size_t len = iov[1].iov_len;
    if (len != 16 && len != sizeof(struct fuse_entry_out) + 16) return 0;
    uint8_t *open_out = (uint8_t *)iov[1].iov_base + len - 16;
    uint32_t flags;
    memcpy(&flags, open_out + 8, 4);
    flags = (flags | FBSHIM_FOPEN_PASSTHROUGH) & ~FBSHIM_FOPEN_KEEP_CACHE;
    memcpy(open_out + 8, &flags, 4);
    memcpy(open_out + 12, &backing_id, 4);
    return 1;
}

// ---------------------------------------------------------------------------
// The table: open addressing on the node id, linear probing with
// backward-shift deletion, under a
// robust process-shared mutex (an instance may die holding it).

#define TABLE_MAGIC 0x44494b42u /* "BKID" */

struct fbshim_backing_entry {
    uint64_t nodeid; // 0: empty
    int32_t id;
    int32_t opens;
    uint32_t instance; // the server instance that last opened the node by it
    uint32_t pad;
};

struct fbshim_backing_table {
    uint32_t magic;
    uint32_t capacity;
    uint64_t idle; // entries no open holds, kept until FORGET (or capped)
    pthread_mutex_t lock;
    char pad[64];
    struct fbshim_backing_entry e[];
};

static size_t table_size(uint32_t capacity) {
    return sizeof(struct fbshim_backing_table) + (size_t)capacity * sizeof(struct fbshim_backing_entry);
}

static void table_init(struct fbshim_backing_table *t, uint32_t capacity) {
    memset(t, 0, table_size(capacity));
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&t->lock, &a);
    pthread_mutexattr_destroy(&a);
    t->capacity = capacity;
    __atomic_store_n(&t->magic, TABLE_MAGIC, __ATOMIC_RELEASE);
}

struct fbshim_backing_table *fbshim_backing_table_map(const char *path, uint32_t capacity, int reset) {
    size_t size = table_size(capacity);
    void *p;
    if (path == NULL) {
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return NULL;
        reset = 1;
    } else {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) return NULL;
        struct stat st;
        if (fstat(fd, &st) != 0 || ((size_t)st.st_size != size && ftruncate(fd, (off_t)size) != 0)) {
            int e = errno;
            close(fd);
            errno = e;
            return NULL;
        }
        if ((size_t)st.st_size != size) reset = 1;
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        int e = errno;
        close(fd);
        if (p == MAP_FAILED) {
            errno = e;
            return NULL;
        }
    }
    struct fbshim_backing_table *t = p;
    if (reset || t->magic != TABLE_MAGIC || t->capacity != capacity) table_init(t, capacity);
    return t;
}

static void table_lock(struct fbshim_backing_table *t) {
    if (pthread_mutex_lock(&t->lock) == EOWNERDEAD) {
        // An instance died holding it: every step below leaves the table
        // consistent entry by entry, so it is usable as it is.
        pthread_mutex_consistent(&t->lock);
    }
}

static uint32_t table_home(const struct fbshim_backing_table *t, uint64_t nodeid) {
    return (uint32_t)((nodeid * 0x9E3779B97F4A7C15ull) >> 32) & (t->capacity - 1);
}

/// The entry of `nodeid`, or NULL with `*slot` the empty slot where it
/// would go (NULL when the table is full).
static struct fbshim_backing_entry *table_find(struct fbshim_backing_table *t, uint64_t nodeid,
                                               struct fbshim_backing_entry **slot) {
    uint32_t mask = t->capacity - 1;
    uint32_t i = table_home(t, nodeid);
    *slot = NULL;
    for (uint32_t n = 0; n < t->capacity; n++, i = (i + 1) & mask) {
        struct fbshim_backing_entry *e = &t->e[i];
        if (e->nodeid == nodeid) return e;
        if (e->nodeid == 0) {
            *slot = e;
            return NULL;
        }
    }
    return NULL;
}

/// Empties slot `e`, shifting later entries of its probe run back (no
/// tombstones: lookups of absent ids stay short however many come and go).
static void table_remove(struct fbshim_backing_table *t, struct fbshim_backing_entry *e) {
    uint32_t mask = t->capacity - 1;
    uint32_t i = (uint32_t)(e - t->e);
    for (uint32_t j = (i + 1) & mask; t->e[j].nodeid != 0; j = (j + 1) & mask) {
        uint32_t k = table_home(t, t->e[j].nodeid);
        // Entry j may move to i if its home is not within (i, j].
        int between = i <= j ? (k > i && k <= j) : (k > i || k <= j);
        if (!between) {
            t->e[i] = t->e[j];
            i = j;
        }
    }
    t->e[i].nodeid = 0;
}

/// One more open of entry `e`, by server `instance` (an idle entry is idle
/// no more).
static void table_hold(struct fbshim_backing_table *t, struct fbshim_backing_entry *e, uint32_t instance) {
    if (e->opens++ == 0) t->idle--;
    e->instance = instance;
}

int fbshim_backing_acquire(struct fbshim_backing_table *t, int fuse_fd, uint64_t nodeid, int fd, uint32_t instance,
                           int *fresh) {
    table_lock(t);
    struct fbshim_backing_entry *slot;
    struct fbshim_backing_entry *e = table_find(t, nodeid, &slot);
    int id;
    *fresh = 0;
    if (e) {
        table_hold(t, e, instance);
        id = e->id;
    } else if (!slot) {
        id = -ENOSPC;
    } else {
        id = fbshim_backing_open(fuse_fd, fd);
        if (id > 0) {
            slot->id = id;
            slot->opens = 1;
            slot->instance = instance;
            __atomic_store_n(&slot->nodeid, nodeid, __ATOMIC_RELEASE);
            *fresh = 1;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return id;
}

int fbshim_backing_reuse(struct fbshim_backing_table *t, uint64_t nodeid, uint32_t instance) {
    table_lock(t);
    struct fbshim_backing_entry *slot;
    struct fbshim_backing_entry *e = table_find(t, nodeid, &slot);
    int id = 0;
    if (e && e->instance == instance) {
        table_hold(t, e, instance);
        id = e->id;
    }
    pthread_mutex_unlock(&t->lock);
    return id;
}

/// Takes entry `e` out of the table, then closes its id: a crash between
/// the two leaks the id (until the connection ends), never names a closed
/// one.
static void table_drop(struct fbshim_backing_table *t, int fuse_fd, struct fbshim_backing_entry *e) {
    int id = e->id;
    table_remove(t, e);
    fbshim_backing_close(fuse_fd, id);
}

int fbshim_backing_release(struct fbshim_backing_table *t, int fuse_fd, uint64_t nodeid, uint32_t keep_idle) {
    table_lock(t);
    struct fbshim_backing_entry *slot;
    struct fbshim_backing_entry *e = table_find(t, nodeid, &slot);
    int closed = 0;
    if (e && --e->opens <= 0) {
        e->opens = 0;
        if (t->idle < keep_idle) {
            t->idle++;
        } else {
            table_drop(t, fuse_fd, e);
            closed = 1;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return e ? (closed ? 1 : 0) : -ENOENT;
}

int fbshim_backing_forget(struct fbshim_backing_table *t, int fuse_fd, uint64_t nodeid) {
    table_lock(t);
    struct fbshim_backing_entry *slot;
    struct fbshim_backing_entry *e = table_find(t, nodeid, &slot);
    int closed = 0;
    if (e && e->opens <= 0) {
        t->idle--;
        table_drop(t, fuse_fd, e);
        closed = 1;
    }
    pthread_mutex_unlock(&t->lock);
    return closed;
}

uint64_t fbshim_backing_idle(struct fbshim_backing_table *t) {
    return __atomic_load_n(&t->idle, __ATOMIC_RELAXED);
}

