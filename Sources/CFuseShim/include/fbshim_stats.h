// The server statistics region, on its own: the reference server (through
// CFuseShim.h) and the preload shim for other servers (Sources/Preload/preload.c, which
// includes it by path) write the same layout, which the harness reads.
#ifndef FBSHIM_STATS_H
#define FBSHIM_STATS_H
#include <stdint.h>

// ---------------------------------------------------------------------------
// Server statistics, in a file mapped MAP_SHARED by the server (writer) and
// the harness (reader), so that the counters outlive a crashed server.
// Latencies go into log-linear buckets: 16 per power of two (<6.25% width).

#define FBSHIM_STATS_MAGIC 0x54534246u /* "FBST" */
#define FBSHIM_STATS_VERSION 4u
#define FBSHIM_STATS_OPCODES 64
#define FBSHIM_HIST_SUB_BITS 4
#define FBSHIM_HIST_BUCKETS 1024

/// The device readers of a server (its threads that read /dev/fuse), for
/// the handover: FBSHIM_READER_READING from just before a read of the
/// device until it returns, FBSHIM_READER_SERVING after.
#define FBSHIM_READERS 64
#define FBSHIM_READER_READING 1u
#define FBSHIM_READER_SERVING 2u
struct fbshim_reader {
    int32_t tid;
    uint32_t state;
};

/// Counters of one FUSE opcode.
struct fbshim_op_stats {
    uint64_t count;
    uint64_t errors;
    uint64_t total_ns;
    uint64_t max_ns;
    uint64_t buckets[FBSHIM_HIST_BUCKETS];
};

/// What crossed /dev/fuse for one opcode: requests read, their bytes, and
/// the bytes of the replies written for them (by the thread that read the
/// request; notifications count under opcode 0).
struct fbshim_op_io {
    uint64_t received;
    uint64_t in_bytes;
    uint64_t out_bytes;
    uint64_t reserved;
};

/// The whole shared region.
struct fbshim_stats_region {
    uint32_t magic;
    uint32_t version;
    uint64_t pid;
    uint64_t started_ns;     // CLOCK_MONOTONIC when the server started
    uint64_t init_ns;        // when FUSE_INIT was handled
    uint64_t first_reply_ns; // first reply to any request after INIT
    uint64_t last_reply_ns;
    uint64_t requests;
    uint64_t unknown_nodes;  // requests naming a node id that did not resolve
    uint32_t proto_major;
    uint32_t proto_minor;
    uint64_t cached_fds;     // node table: open O_PATH descriptors now
    uint64_t nodes;          // node table: entries now
    // Restart support.
    uint64_t instance;       // this server's tag in file handles
    uint64_t resent;         // requests re-delivered by FUSE_NOTIFY_RESEND
    uint64_t resent_anomalies; // resent non-idempotent requests that failed
    uint64_t reopened;       // handles of an earlier server, reopened
    uint64_t stale_handles;  // handles of an earlier server, refused
    uint64_t revalidation_ns;      // eager invalidation before serving
    uint64_t revalidation_notifies; // notifications sent for it
    uint64_t entry_revalidation_ns; // entry invalidations, after serving began
    // Fault injection, armed by the harness (0 = off).
    uint32_t crash_opcode;   // crash while handling this opcode
    uint32_t crash_phase;    // 1: before the work, 2: after it, before the reply
    uint64_t crash_armed;    // 1 while armed
    uint64_t crash_ns;       // when the hook fired
    uint64_t kill_after_requests; // SIGKILL itself after this many requests
    uint64_t resent_recognised;   // resent requests recognised as already done
    // FUSE passthrough.
    uint64_t passthrough_opens;   // opens answered with FOPEN_PASSTHROUGH
    uint64_t backing_registered;  // backing files registered (BACKING_OPEN)
    uint64_t passthrough_refused; // opens that could not be passthrough (errno in the log)
    uint64_t passthrough_reused;  // of passthrough_opens, answered with a registered id, no backing open
    uint64_t backing_idle;        // gauge: backing ids registered with no open (kept until FORGET)
    uint64_t init_reply_added;    // the INIT flags the server added to libfuse's reply
    // FUSE over io_uring.
    uint64_t uring_queues;        // queues registered (0: none)
    uint64_t uring_requests;      // requests served through the rings
    uint64_t uring_error;         // errno of a refused registration (0: none)
    // The preload shim in another server (Sources/Preload); 0 in ours.
    uint64_t shim_pid;            // the process that read FUSE_INIT (or had it replayed)
    uint64_t shim_requests_seen;  // requests it saw on the device
    uint64_t shim_replayed;       // 1: the saved FUSE_INIT was replayed to it
    // The handover timeline (a resuming server; 0 in others).
    uint64_t go_ns;               // a warm standby let through its gate
    uint64_t first_request_ns;    // its first request read after the gate
    uint64_t rehearsed;           // a warm standby's rehearsal requests, served to itself
    uint64_t resent_own;          // of resent, requests this very server had read before the resend
    uint64_t resent_replied_ns;   // the latest reply to a resent request
    // The handover's read stop: once the harness has set read_stop (the
    // server is dead), no thread of it starts another read of the device;
    // a reader found serving after that is out (fbshim_reader_enter).
    uint64_t read_stop;
    uint32_t reader_count;        // slots taken in readers (more threads: untracked)
    uint32_t readers_complete;    // 1: every read of the device goes through a reader here
                                  // (no io_uring, no splice): a thread not among them never reads
    struct fbshim_reader readers[FBSHIM_READERS];
    uint64_t init_len;       // the connection's FUSE_INIT request, as read
    uint8_t init_bytes[512];
    struct fbshim_op_stats ops[FBSHIM_STATS_OPCODES];
    struct fbshim_op_io io[FBSHIM_STATS_OPCODES];
};

_Static_assert(sizeof(struct fbshim_op_stats) == 32 + 8 * FBSHIM_HIST_BUCKETS,
               "op stats layout");
_Static_assert(FBSHIM_HIST_BUCKETS >= 16 + 60 * 16, "buckets cover 64 bits");

/// Bucket index for a value in nanoseconds.
static inline int fbshim_hist_index(uint64_t v) {
    if (v < 16) return (int)v;
    int e = 63 - __builtin_clzll(v);
    int sub = (int)((v >> (e - FBSHIM_HIST_SUB_BITS)) & 15);
    return 16 + (e - FBSHIM_HIST_SUB_BITS) * 16 + sub;
}

/// Lowest value that falls into bucket `i`.
static inline uint64_t fbshim_hist_lower(int i) {
    if (i < 16) return (uint64_t)i;
    int e = (i - 16) / 16 + FBSHIM_HIST_SUB_BITS;
    uint64_t sub = (uint64_t)((i - 16) % 16);
    return (16 + sub) << (e - FBSHIM_HIST_SUB_BITS);
}

/// Highest value that falls into bucket `i`.
static inline uint64_t fbshim_hist_upper(int i) {
    if (i < 15) return (uint64_t)i;
    if (i == FBSHIM_HIST_BUCKETS - 1) return UINT64_MAX;
    uint64_t next = fbshim_hist_lower(i + 1);
    return next == 0 ? UINT64_MAX : next - 1;
}

#endif
