// FUSE over io_uring (kernel 6.14+), which libfuse 3.14 does not know.
//
// One queue per CPU, each served by one thread pinned to its CPU with a ring
// of its own (IORING_SETUP_SQE128: the FUSE command lives in the SQE). Every
// ring entry has a header buffer (struct fuse_uring_req_header: the request
// or reply header, the opcode's own header, and the entry's commit id and
// payload size) and a payload buffer. REGISTER hands an entry to the kernel
// and asks for a request; a completion carries one; the reply goes back with
// COMMIT_AND_FETCH, which also re-arms the entry.
//
// The requests are served by libfuse: the thread rebuilds the request as
// /dev/fuse would deliver it (header, opcode header, payload) and calls
// fuse_session_process_buf; libfuse writes the reply through the session's
// custom writev, which, on a queue thread, hands it to fbshim_uring_reply
// instead of /dev/fuse. FORGET and INTERRUPT still come through /dev/fuse
// (the kernel sends them there), so the ordinary read loop keeps running.
#define _GNU_SOURCE
#include "CFuseShim.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/fuse.h>

// The kernel ABI (include/uapi/linux/fuse.h, 7.42), spelled out because
// Debian 12's headers and libfuse 3.14 predate it.
#define URING_IN_OUT_SZ 128
#define URING_OP_IN_SZ 128
struct uring_ent_in_out {
    uint64_t flags;
    uint64_t commit_id;
    uint32_t payload_sz;
    uint32_t padding;
    uint64_t reserved;
};
struct uring_req_header {
    char in_out[URING_IN_OUT_SZ];
    char op_in[URING_OP_IN_SZ];
    struct uring_ent_in_out ent;
};
struct uring_cmd_req {
    uint64_t flags;
    uint64_t commit_id;
    uint16_t qid;
    uint8_t padding[6];
};
enum { CMD_REGISTER = 1, CMD_COMMIT_AND_FETCH = 2 };

struct uring_ent {
    struct uring_queue *q;
    struct uring_req_header *header;
    char *payload;
    struct iovec iov[2];
};

struct uring_queue {
    struct fbshim_uring *u;
    int qid;
    struct io_uring ring;
    struct uring_ent *ents;
    char *request; // the request rebuilt as /dev/fuse delivers it
    pthread_t thread;
};

struct fbshim_uring {
    struct fuse_session *se;
    int fuse_fd;
    int nqueues;
    int depth;
    size_t payload_size;
    struct uring_queue *queues;
    _Atomic uint64_t requests;
    _Atomic uint64_t errors;
    _Atomic int stopping;
    fbshim_uring_request_fn on_request;
    void *ctx;
};

// The entry whose request the calling thread is serving (NULL: not a queue
// thread, or between requests).
static _Thread_local struct uring_ent *current_ent;

static int submit_cmd(struct uring_queue *q, struct uring_ent *e, int cmd, uint64_t commit_id) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
    if (!sqe) {
        io_uring_submit(&q->ring);
        sqe = io_uring_get_sqe(&q->ring);
        if (!sqe) return -EBUSY;
    }
    memset(sqe, 0, 2 * sizeof *sqe); // SQE128
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = q->u->fuse_fd;
    sqe->cmd_op = (uint32_t)cmd;
    sqe->user_data = (uint64_t)(uintptr_t)e;
    if (cmd == CMD_REGISTER) {
        sqe->addr = (uint64_t)(uintptr_t)e->iov;
        sqe->len = 2;
    }
    struct uring_cmd_req *req = (struct uring_cmd_req *)sqe->cmd;
    req->qid = (uint16_t)q->qid;
    req->commit_id = commit_id;
    return 0;
}

int fbshim_uring_reply(struct iovec *iov, int count) {
    struct uring_ent *e = current_ent;
    if (!e || count < 1 || iov[0].iov_len < sizeof(struct fuse_out_header)) return -EINVAL;
    current_ent = NULL;
    size_t total = 0, payload = 0;
    memcpy(e->header->in_out, iov[0].iov_base, sizeof(struct fuse_out_header));
    total += iov[0].iov_len;
    for (int i = 1; i < count; i++) {
        size_t n = iov[i].iov_len;
        if (payload + n > e->q->u->payload_size) {
            // Cannot happen within max_write/max_read; answer EIO rather
            // than overflow.
            struct fuse_out_header *h = (struct fuse_out_header *)e->header->in_out;
            h->error = -EIO;
            h->len = sizeof *h;
            payload = 0;
            break;
        }
        memcpy(e->payload + payload, iov[i].iov_base, n);
        payload += n;
        total += n;
    }
    e->header->ent.payload_sz = (uint32_t)payload;
    ((struct fuse_out_header *)e->header->in_out)->len = (uint32_t)(sizeof(struct fuse_out_header) + payload);
    int rc = submit_cmd(e->q, e, CMD_COMMIT_AND_FETCH, e->header->ent.commit_id);
    if (rc == 0) rc = io_uring_submit(&e->q->ring);
    return rc < 0 ? rc : (int)total;
}

int fbshim_uring_thread_has_request(void) { return current_ent != NULL; }

static void serve(struct uring_queue *q, struct uring_ent *e) {
    const struct fuse_in_header *in = (const void *)e->header->in_out;
    uint32_t payload = e->header->ent.payload_sz;
    size_t len = in->len;
    size_t op_len = len >= sizeof *in + payload ? len - sizeof *in - payload : 0;
    if (op_len > URING_OP_IN_SZ || payload > q->u->payload_size) {
        atomic_fetch_add(&q->u->errors, 1);
        op_len = 0;
    }
    memcpy(q->request, in, sizeof *in);
    memcpy(q->request + sizeof *in, e->header->op_in, op_len);
    memcpy(q->request + sizeof *in + op_len, e->payload, payload);
    struct fuse_buf buf = {.size = sizeof *in + op_len + payload, .mem = q->request};
    ((struct fuse_in_header *)q->request)->len = (uint32_t)buf.size;
    atomic_fetch_add(&q->u->requests, 1);
    if (q->u->on_request) q->u->on_request(q->u->ctx, q->request, buf.size);
    current_ent = e;
    fuse_session_process_buf(q->u->se, &buf);
    if (current_ent == e) {
        // No reply was written (a request without one): re-arm the entry
        // with an empty answer so that it is not lost.
        struct fuse_out_header h = {.len = sizeof h, .error = -ENOSYS, .unique = in->unique};
        struct iovec iov = {.iov_base = &h, .iov_len = sizeof h};
        fbshim_uring_reply(&iov, 1);
    }
}

static void *queue_main(void *arg) {
    struct uring_queue *q = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(q->qid, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    while (!atomic_load(&q->u->stopping)) {
        struct io_uring_cqe *cqe;
        int rc = io_uring_wait_cqe(&q->ring, &cqe);
        if (rc == -EINTR) continue;
        if (rc < 0) break;
        struct uring_ent *e = (struct uring_ent *)(uintptr_t)cqe->user_data;
        int res = cqe->res;
        io_uring_cqe_seen(&q->ring, cqe);
        if (!e) continue; // the NOP of fbshim_uring_stop
        if (res < 0) {
            // -ENOTCONN or -ECANCELED: the connection is gone or the entry
            // was taken back; nothing more comes to it.
            atomic_fetch_add(&q->u->errors, 1);
            if (res == -ENOTCONN || res == -ENODEV) break;
            continue;
        }
        serve(q, e);
    }
    return NULL;
}

struct fbshim_uring *fbshim_uring_start(struct fuse_session *se, int fuse_fd, int depth, size_t max_write,
                                        fbshim_uring_request_fn on_request, void *ctx, int *err) {
    struct fbshim_uring *u = calloc(1, sizeof *u);
    if (!u) { *err = ENOMEM; return NULL; }
    u->on_request = on_request;
    u->ctx = ctx;
    u->se = se;
    u->fuse_fd = fuse_fd;
    u->depth = depth;
    u->nqueues = (int)sysconf(_SC_NPROCESSORS_CONF);
    // The kernel wants room for max_write and for max_pages of READ data.
    u->payload_size = max_write > (1u << 20) ? max_write : (1u << 20);
    u->queues = calloc((size_t)u->nqueues, sizeof *u->queues);
    if (!u->queues) { *err = ENOMEM; return NULL; }
    for (int i = 0; i < u->nqueues; i++) {
        struct uring_queue *q = &u->queues[i];
        q->u = u;
        q->qid = i;
        int rc = io_uring_queue_init((unsigned)depth * 2, &q->ring, IORING_SETUP_SQE128);
        if (rc < 0) { *err = -rc; return NULL; }
        q->ents = calloc((size_t)depth, sizeof *q->ents);
        q->request = malloc(sizeof(struct fuse_in_header) + URING_OP_IN_SZ + u->payload_size);
        if (!q->ents || !q->request) { *err = ENOMEM; return NULL; }
        for (int j = 0; j < depth; j++) {
            struct uring_ent *e = &q->ents[j];
            e->q = q;
            if (posix_memalign((void **)&e->header, 4096, sizeof *e->header) != 0
                || posix_memalign((void **)&e->payload, 4096, u->payload_size) != 0) {
                *err = ENOMEM;
                return NULL;
            }
            memset(e->header, 0, sizeof *e->header);
            e->iov[0] = (struct iovec){.iov_base = e->header, .iov_len = sizeof *e->header};
            e->iov[1] = (struct iovec){.iov_base = e->payload, .iov_len = u->payload_size};
            if (submit_cmd(q, e, CMD_REGISTER, 0) != 0) { *err = EBUSY; return NULL; }
        }
        rc = io_uring_submit(&q->ring);
        if (rc < 0) { *err = -rc; return NULL; }
        // A refused registration shows as a completion with an error at
        // once: wait briefly for one.
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
        if (io_uring_wait_cqe_timeout(&q->ring, &cqe, &ts) == 0) {
            if (cqe->res < 0) {
                *err = -cqe->res;
                io_uring_cqe_seen(&q->ring, cqe);
                return NULL;
            }
            // A request already: leave it for the thread.
        }
    }
    for (int i = 0; i < u->nqueues; i++) {
        if (pthread_create(&u->queues[i].thread, NULL, queue_main, &u->queues[i]) != 0) {
            *err = EAGAIN;
            return NULL;
        }
    }
    *err = 0;
    return u;
}

uint64_t fbshim_uring_requests(const struct fbshim_uring *u) { return u ? atomic_load(&u->requests) : 0; }
int fbshim_uring_queues(const struct fbshim_uring *u) { return u ? u->nqueues : 0; }

struct kick_arg {
    int cpu;
    const char *path;
    int rc;
};

static void *kick_main(void *p) {
    struct kick_arg *k = p;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(k->cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    struct statfs st;
    k->rc = statfs(k->path, &st) == 0 ? 0 : errno;
    return NULL;
}

int fbshim_uring_kick(struct fbshim_uring *u, const char *path) {
    if (!u) return 0;
    int kicked = 0;
    for (int i = 0; i < u->nqueues; i++) {
        struct kick_arg k = {.cpu = i, .path = path, .rc = 0};
        pthread_t t;
        if (pthread_create(&t, NULL, kick_main, &k) != 0) continue;
        pthread_join(t, NULL);
        if (k.rc == 0) kicked++;
    }
    return kicked;
}

void fbshim_uring_stop(struct fbshim_uring *u) {
    if (!u) return;
    atomic_store(&u->stopping, 1);
    for (int i = 0; i < u->nqueues; i++) {
        struct uring_queue *q = &u->queues[i];
        // Queue threads own their rings' submission side; a NOP from here
        // races with them only at the end, when they no longer submit.
        struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);
        if (sqe) {
            io_uring_prep_nop(sqe);
            sqe->user_data = 0;
            io_uring_submit(&q->ring);
        }
        pthread_join(q->thread, NULL);
    }
}
