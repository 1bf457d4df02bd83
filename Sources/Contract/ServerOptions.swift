// Options of the reference server: caching, dispatch and node-id scheme.

/// How node ids are made.
public enum NodeIdScheme: String, Sendable, Codable, CaseIterable {
    /// `inode << 32 | generation` of the backing file: any server process over
    /// the same backing directory can resolve it with open_by_handle_at.
    case handle
    /// A counter, like the pointer ids of typical servers: meaningless to the
    /// next process.
    case ephemeral
    /// The backing inode number alone (`inode << 32`), without the
    /// generation: what a server keyed on st_ino has. Resolved with a handle
    /// whose generation is 0, which ext4 does not check, so a reused inode
    /// number silently names another file. For the inode-reuse hazard.
    case inode
}

/// Everything that shapes how the reference server behaves.
public struct ServerOptions: Sendable, Codable, Equatable {
    /// Maximum worker threads of libfuse's multithreaded loop.
    public var threads: Int = 4
    /// One /dev/fuse clone fd per worker thread (FUSE_DEV_IOC_CLONE).
    public var cloneFd: Bool = false
    /// Seconds the kernel may cache a name lookup.
    public var entryTimeout: Double = 1.0
    /// Seconds the kernel may cache attributes.
    public var attrTimeout: Double = 1.0
    /// Kernel write-back caching (FUSE_CAP_WRITEBACK_CACHE).
    public var writebackCache: Bool = false
    /// Largest WRITE request in bytes.
    public var maxWrite: Int = 128 * 1024
    /// READ replies of 8 KiB and more spliced from the backing file through
    /// a pipe into /dev/fuse (FUSE_CAP_SPLICE_WRITE), one copy fewer than
    /// pread and writev; libfuse copies smaller ones. Pages are copied, never
    /// moved (SPLICE_F_MOVE would steal them from the backing file's page
    /// cache). Requests are always read with read(2) (the custom I/O sees
    /// each one).
    public var splice: Bool = true
    /// READDIRPLUS (attributes with directory entries), when entries may be
    /// cached (entryTimeout above 0): with a zero entry timeout every entry
    /// it brings would be stale at once, and the next access looks the
    /// name up again anyway.
    public var readdirplus: Bool = true
    /// Keep the page cache across opens (FOPEN_KEEP_CACHE).
    public var keepCache: Bool = false
    /// Extended attributes. Off, the xattr calls answer ENOSYS, after which
    /// the kernel stops sending them, including the GETXATTR of
    /// security.capability that it otherwise sends before every write
    /// (passthrough_ll's default).
    public var xattr: Bool = true
    /// FUSE_HANDLE_KILLPRIV_V2: the server kills suid/sgid on writes and
    /// truncations by callers without CAP_FSETID, so the kernel marks
    /// inodes S_NOSEC and asks for security.capability once per inode
    /// (after each attribute refresh) instead of before every write.
    public var killPrivV2: Bool = true
    /// FOPEN_NOFLUSH on every open of a file whose backing file system has
    /// no flush operation (ext4, xfs, btrfs, tmpfs): there, the FLUSH that
    /// close(2) sends could only be answered by a close(2) of a duplicate
    /// that reports nothing, so the kernel skips the round trip. Off, every
    /// close(2) sends FLUSH.
    public var skipFlush: Bool = true
    /// FUSE passthrough (kernel 6.9+): a file's reads, writes and mmap go
    /// straight to its backing file, with no request to the server. The
    /// kernel refuses it with write-back caching (write-back caching, asked
    /// for explicitly, wins: the server does not ask for both), and a passthrough open carries no
    /// FOPEN_KEEP_CACHE (the page cache is the backing file's). Off, or
    /// where the kernel does not offer it, every read and write is a
    /// request.
    public var passthrough: Bool = true
    /// With passthrough and handle node ids, on a connection that dies
    /// with the server: the last release of a file leaves its backing id
    /// registered, idle, until the kernel forgets the node (at most
    /// fdCacheCapacity of them), and the next open is answered with it, with
    /// no backing open and no ioctl. Off, every last release closes the id.
    public var idleBackingFiles: Bool = true
    /// FUSE over io_uring (kernel 6.14+, module parameter enable_uring=Y):
    /// requests and replies travel through one ring per CPU instead of
    /// read(2) and writev(2) on /dev/fuse. FORGET and INTERRUPT still come
    /// through /dev/fuse. Replies are copied into the ring (no splice).
    public var ioUring: Bool = false
    /// Ring entries per queue (requests in flight per CPU) with ioUring.
    public var ioUringQueueDepth: Int = 8
    /// FUSE_PARALLEL_DIROPS: lookups and readdirs in one directory run in
    /// parallel (off: the kernel serialises them on the directory's lock;
    /// libfuse 3.14 never sets it).
    public var parallelDirops: Bool = true
    /// FUSE_AUTO_INVAL_DATA: the kernel drops a file's cached pages when the
    /// attributes it refreshes show a new mtime or size (a change behind the
    /// server's back shows within attrTimeout).
    public var autoInvalData: Bool = true
    /// Node-id scheme.
    public var nodeIds: NodeIdScheme = .handle
    /// Most O_PATH descriptors the node table keeps open.
    public var fdCacheCapacity: Int = 8192
    /// Mount option allow_other: processes of every user may use the mount
    /// (off: only the mounter's, root's, as FUSE's default).
    public var allowOther: Bool = false
    /// Mount option default_permissions: the kernel checks permissions
    /// from the file's mode and owner before a request reaches the server.
    public var defaultPermissions: Bool = false
    /// Further mount options ("max_read=131072", "blksize=4096"), given to
    /// mount(2) for the harness's mounts and to libfuse (-o) by `serve`.
    public var mountOptions: [String] = []
    /// Creation and every permission-relevant request run with the caller's
    /// fsuid, fsgid and supplementary groups, so that objects are owned and
    /// permissions checked as on the backing file system (off: as root).
    public var callerCredentials: Bool = true

    /// The mount options these options ask for, comma-joined ("" for none).
    public var mountOptionString: String {
        ((allowOther ? ["allow_other"] : []) + (defaultPermissions ? ["default_permissions"] : []) + mountOptions)
            .joined(separator: ",")
    }

    /// Defaults.
    public init() {}
}
