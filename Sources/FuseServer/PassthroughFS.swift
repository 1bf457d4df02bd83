// The reference server: a passthrough file system over a backing directory
// on libfuse's low-level API.
//
// Purpose and trade-offs: every node is an O_PATH descriptor found through
// the node table; node ids are backing file handles (see NodeTable), so a
// later server process can resolve ids this one handed out. Open files and
// directories are plain descriptors in `fh` (a restart strategy that keeps
// them valid needs more: see the restart issues). Requests are served by
// libfuse's worker threads in parallel; shared state lives in the node
// table (sharded locks) and the stats region (atomics).
import Contract
import CFuseShim
import Glibc
import Synchronization

/// The passthrough file system: one instance per server process.
/// Unchecked Sendable: `session` and `onInit` are set once, before the
/// session serves its first request; everything the worker threads share
/// after that is a Sendable value, a lock-protected table or an atomic.
public final class PassthroughFS: @unchecked Sendable {
    /// Options as given.
    public let options: ServerOptions
    /// The backing directory.
    public let source: String
    /// Node ids.
    public let nodes: NodeTable
    /// Shared statistics.
    public let stats: StatsRegion
    /// How this instance relates to earlier ones.
    public let restart: RestartOptions
    let rootFd: Int32
    /// st_dev of the backing root: names on another file system (a mount
    /// inside the backing tree) never take rememberLive's shortcut.
    let rootDev: dev_t
    /// Opens carry FOPEN_NOFLUSH: skipFlush, over a backing file system
    /// without a flush operation.
    let skipsFlush: Bool
    let files: OpenFiles
    /// With keepCache: what each node was when last opened or closed.
    let cacheStamps = CacheStamps()
    let io: ServerIO
    /// FUSE passthrough's backing files (nil: passthrough off).
    let backing: BackingFiles?
    let journal: Journal?
    let intents: IntentLog?
    /// Debug option: microseconds every request waits before it is served
    /// ($FUSEBENCH_SERVER_DELAY_US), to show that the CI gate catches a slowdown.
    let debugDelayMicros: UInt32 = Settings.serverDelayMicros
    /// Debug option: answer one request in every `debugFailEvery` with EIO
    /// instead of serving it ($FUSEBENCH_SERVER_FAIL_PERCENT: 1 fails every
    /// 100th request; 0, the default, none), to show that the CI gate
    /// catches a server that fails requests. FORGETs, which have no reply,
    /// are never failed.
    let debugFailEvery: UInt64 = Settings.serverFailPercent > 0
        ? UInt64(max(1, (100 / Settings.serverFailPercent).rounded())) : 0
    /// Requests seen by the failure injection.
    let debugFailCounter = Atomic<UInt64>(0)
    /// The libfuse session, once created (for notifications).
    var session: OpaquePointer?
    /// Called once FUSE_INIT has been handled.
    var onInit: (@Sendable () -> Void)?
    /// The mountpoint, where the server can name it (the harness's
    /// launch, or serve's argument): io_uring queues are kicked through it.
    public var mountpoint: String?
    /// The io_uring queues, once registered (set once, on the thread that
    /// wrote the INIT reply).
    var uring: OpaquePointer?

    /// Opens `source` and prepares the node table.
    public init(source: String, options: ServerOptions, restart: RestartOptions = RestartOptions(),
                stats: StatsRegion) throws(SysError) {
        self.source = source
        self.options = options
        self.restart = restart
        self.stats = stats
        files = OpenFiles(instance: restart.instance, policy: restart.staleHandles,
                          keeper: restart.stateFd.map { StateKeeperLink(sock: $0) })
        var initBytes: [UInt8]?
        if let path = restart.resumeInit {
            initBytes = try Self.readFile(path)
            if initBytes!.count < 40 { throw SysError(EINVAL) }
        }
        // Write-back caching and passthrough exclude each other in the
        // kernel (process_init_reply): write-back caching, asked for
        // explicitly, wins.
        let passthrough = options.passthrough && !options.writebackCache
        let backing = passthrough
            ? try BackingFiles(path: restart.backingIds, fresh: restart.resumeInit == nil && restart.instance == 1,
                               instance: restart.instance,
                               // As many as the descriptor cache: an idle
                               // id holds its backing inode as a cached
                               // descriptor does. None on a connection that
                               // outlives this server: after a crash they
                               // would hold their inodes until the unmount.
                               keepIdle: options.idleBackingFiles && options.nodeIds == .handle
                                 && !restart.connectionOutlivesServer ? options.fdCacheCapacity : 0,
                               stats: stats) : nil
        self.backing = backing
        // A warm standby handles the saved INIT at once and waits at the
        // gate of its reads (with io_uring, before its session loop:
        // FuseSessionRunner).
        let gateFd = options.ioUring ? nil : restart.standbyFd
        io = ServerIO(stats: stats, resumeInit: initBytes,
                      wantedFlags: (options.killPrivV2 ? ServerIO.killPrivV2Flag : 0)
                        | (options.parallelDirops ? ServerIO.parallelDiropsFlag : 0)
                        | (passthrough ? ServerIO.passthroughFlag : 0)
                        | (options.ioUring ? ServerIO.ioUringFlag : 0),
                      gateFd: gateFd,
                      // The ready pipe of a server the harness launched.
                      gatePassedFd: gateFd == nil ? nil : LaunchSlot.ready.rawValue,
                      // With counter ids a lookup is not undone by its
                      // FORGET (the counter moved on): the root alone.
                      rehearsal: gateFd == nil ? nil
                        : Rehearsal(name: options.nodeIds == .ephemeral ? nil : Rehearsal.someName(in: source)),
                      onLostPassthroughOpen: { backing?.release($0) })
        journal = try restart.journal.map { (p) throws(SysError) in try Journal(path: p) }
        intents = try restart.intents.map { (p) throws(SysError) in try IntentLog(path: p) }
        stats.region.pointee.instance = UInt64(restart.instance)
        // Not O_PATH: open_by_handle_at refuses an O_PATH mount descriptor.
        let fd = Glibc.open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw SysError.current }
        rootFd = fd
        var rootStat = stat()
        rootDev = fstat(fd, &rootStat) == 0 ? rootStat.st_dev : 0
        skipsFlush = options.skipFlush && Self.hasNoFlushOperation(fd)
        do throws(SysError) {
            nodes = try NodeTable(scheme: options.nodeIds, rootFd: fd, fdCapacity: options.fdCacheCapacity,
                                  stats: stats, refuseUnknown: restart.refuseUnknownNodes)
        } catch {
            close(fd)
            throw error
        }
    }

    deinit { close(rootFd) }

    /// READDIRPLUS is asked for, and its entries could be cached.
    var usesReaddirplus: Bool { options.readdirplus && options.entryTimeout > 0 }

    /// File systems whose files have no `flush` operation, so that close(2)
    /// of a duplicate descriptor does nothing and cannot fail: ext2/3/4,
    /// xfs, btrfs, tmpfs. Others (NFS, FUSE, overlayfs, CIFS) may report
    /// delayed errors at close and keep FLUSH.
    static func hasNoFlushOperation(_ fd: Int32) -> Bool {
        noFlushFileSystems.contains(fbshim_fs_type(fd))
    }

    /// f_type magic numbers of ext2/3/4, xfs, btrfs and tmpfs.
    private static let noFlushFileSystems: Set<Int> = [0xEF53, 0x5846_5342, 0x9123_683E, 0x0102_1994]

    static func readFile(_ path: String) throws(SysError) -> [UInt8] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SysError.current }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = Glibc.read(fd, &buf, buf.count)
        if n < 0 { throw SysError.current }
        return Array(buf[0..<n])
    }

    // MARK: - Helpers

    /// Looks `name` up in directory `dirfd`, remembers the node and fills
    /// an entry for the kernel (one more lookup count). A name whose inode
    /// the node table holds open costs one fstatat (NodeTable.rememberLive);
    /// `fresh` (a file just created) goes straight to the full lookup.
    func makeEntry(_ dirfd: Int32, _ name: UnsafePointer<CChar>, parent: UInt64,
                   fresh: Bool = false) throws(SysError) -> fuse_entry_param {
        var e = fuse_entry_param()
        e.attr_timeout = options.attrTimeout
        e.entry_timeout = options.entryTimeout
        if !fresh {
            try check(fstatat(dirfd, name, &e.attr, AT_SYMLINK_NOFOLLOW))
            if e.attr.st_dev == rootDev, let id = nodes.rememberLive(inode: UInt64(e.attr.st_ino)) {
                e.ino = id
                journal?.record(parent: parent, node: id, name: name)
                return e
            }
        }
        let fd = openat(dirfd, name, fbshim_O_PATH | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { throw SysError.current }
        if fstatat(fd, "", &e.attr, fbshim_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 {
            let err = SysError.current
            close(fd)
            throw err
        }
        let handle: BackingHandle
        do throws(SysError) {
            handle = try BackingHandle.of(fd, "", flags: fbshim_AT_EMPTY_PATH)
        } catch {
            close(fd)
            throw error
        }
        e.ino = try nodes.remember(handle, fd: fd)
        journal?.record(parent: parent, node: e.ino, name: name)
        return e
    }

    func attributes(_ fd: Int32) throws(SysError) -> stat {
        var st = stat()
        try check(fstatat(fd, "", &st, fbshim_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
        return st
    }

    /// Opens node `ino` with `flags` through its backing handle. A thread
    /// acting as a non-root caller opens it through its O_PATH descriptor
    /// instead, so that the open is checked with the caller's credentials
    /// (open_by_handle_at runs with the server's).
    func openNode(_ ino: UInt64, flags: Int32) throws(SysError) -> Int32 {
        if fbshim_thread_is_caller() != 0 {
            return try nodes.withFd(ino) { (fd) throws(SysError) -> Int32 in
                let f = Glibc.open(procPath(fd), flags | O_CLOEXEC)
                if f < 0 { throw SysError.current }
                return f
            }
        }
        return try nodes.handle(of: ino).open(mountFd: rootFd, flags: flags | O_CLOEXEC)
    }

    // MARK: - Lifecycle

    /// Registers the io_uring queues (ioUring), once the connection is
    /// initialised. A connection without io_uring, or a refused
    /// registration, is logged and recorded (uring_error); the server goes
    /// on serving /dev/fuse.
    func startUring() {
        // The harness may use the mount once this server says it is ready:
        // with io_uring, only once its queues are registered and kicked.
        defer { onInit?() }
        guard let se = session else { return }
        guard io.ioUring else {
            stats.region.pointee.uring_error = UInt64(EOPNOTSUPP)
            logLine("fusebench serve: the kernel did not offer FUSE over io_uring (is "
                    + "/sys/module/fuse/parameters/enable_uring Y?); serving /dev/fuse")
            return
        }
        var err: Int32 = 0
        let ctx = Unmanaged.passUnretained(self).toOpaque()
        let u = fbshim_uring_start(se, fuse_session_fd(se), Int32(options.ioUringQueueDepth), options.maxWrite,
                                   { ctx, buf, n in
                                       let fs = Unmanaged<PassthroughFS>.fromOpaque(ctx!).takeUnretainedValue()
                                       fbshim_atomic_add(&fs.stats.region.pointee.uring_requests, 1)
                                       fs.io.note(buf!, n)
                                   }, ctx, &err)
        guard let u else {
            stats.region.pointee.uring_error = UInt64(err)
            logLine("fusebench serve: io_uring queue registration failed (\(errnoText(err))); serving /dev/fuse")
            return
        }
        uring = u
        stats.region.pointee.uring_queues = UInt64(fbshim_uring_queues(u))
        if let mountpoint {
            // Requests that arrived while no server ran wait in the kernel's
            // queue until an entry completes on that queue.
            let kicked = fbshim_uring_kick(u, mountpoint)
            if kicked < fbshim_uring_queues(u) {
                logLine("fusebench serve: \(kicked) of \(fbshim_uring_queues(u)) io_uring queues answered a STATFS of \(mountpoint)")
            }
        }
    }

    /// One line on the server's standard error (its log).
    func logLine(_ text: String) {
        _ = (text + "\n").withCString { Glibc.write(2, $0, strlen($0)) }
    }

    func initialize(_ conn: UnsafeMutablePointer<fuse_conn_info>) {
        func want(_ flag: Int32, _ on: Bool) {
            let f = UInt32(bitPattern: flag)
            if on && conn.pointee.capable & f != 0 {
                conn.pointee.want |= f
            } else {
                conn.pointee.want &= ~f
            }
        }
        want(FUSE_CAP_WRITEBACK_CACHE, options.writebackCache)
        // Replies only: libfuse offers SPLICE_READ only to custom I/O with a
        // splice_receive, which ours lacks on purpose (ServerIO).
        want(FUSE_CAP_SPLICE_READ, false)
        // A reply through an io_uring queue is copied into its ring entry;
        // a spliced one would go to /dev/fuse, where no request waits for it.
        want(FUSE_CAP_SPLICE_WRITE, options.splice && !options.ioUring)
        want(FUSE_CAP_SPLICE_MOVE, false)
        want(FUSE_CAP_READDIRPLUS, usesReaddirplus)
        want(FUSE_CAP_READDIRPLUS_AUTO, usesReaddirplus)
        want(FUSE_CAP_AUTO_INVAL_DATA, options.autoInvalData)
        want(FUSE_CAP_PARALLEL_DIROPS, options.parallelDirops)
        conn.pointee.max_write = UInt32(options.maxWrite)
        // libfuse checks the INIT's max_read against its own mount options;
        // on a descriptor the harness mounted, nobody told the connection.
        if let v = options.mountOptions.first(where: { $0.hasPrefix("max_read=") }),
           let n = UInt32(v.dropFirst("max_read=".count)) {
            conn.pointee.max_read = n
        }
        var major: UInt32 = 0
        var minor: UInt32 = 0
        fbshim_conn_protocol(conn, &major, &minor)
        stats.markInit(protoMajor: major, protoMinor: minor)
        if restart.resumeInit != nil && restart.eagerRevalidation, let path = restart.journal {
            // A gated standby: once the server before it is dead, and its
            // journal complete.
            io.atGate { [self] in revalidateEagerly(Journal.read(path: path)) }
        }
        // With io_uring, ready once the queues are registered (startUring).
        if !options.ioUring { onInit?() }
    }

    // MARK: - Names

    func lookup(_ r: consuming Request, _ parent: UInt64, _ name: UnsafePointer<CChar>) {
        do throws(SysError) {
            let e = try nodes.withFd(parent) { (p) throws(SysError) in try makeEntry(p, name, parent: parent) }
            r.entry(e)
        } catch { r.fail(error) }
    }

    func forget(_ r: consuming Request, _ ino: UInt64, _ n: UInt64) {
        nodes.forget(ino, n)
        backing?.forget(ino)
        r.none()
    }

    func forgetMulti(_ r: consuming Request, _ count: Int, _ list: UnsafeMutablePointer<fuse_forget_data>) {
        for i in 0..<count {
            nodes.forget(list[i].ino, list[i].nlookup)
            backing?.forget(list[i].ino)
        }
        r.none()
    }

    func getattr(_ r: consuming Request, _ ino: UInt64) {
        do throws(SysError) {
            let st = try nodes.withFd(ino) { (fd) throws(SysError) in try attributes(fd) }
            r.attr(st, options.attrTimeout)
        } catch { r.fail(error) }
    }

    func setattr(_ r: consuming Request, _ ino: UInt64, _ attr: UnsafeMutablePointer<stat>, _ valid: Int32,
                 _ fi: UnsafeMutablePointer<fuse_file_info>?) {
        do throws(SysError) {
            let fh: Int32? = try fi.map { (fi) throws(SysError) in try fileFd(fi, ino) }
            let st = try nodes.withFd(ino) { (fd) throws(SysError) -> stat in
                let path = procPath(fd)
                if valid & FUSE_SET_ATTR_MODE != 0 {
                    if let fh { try check(fchmod(fh, attr.pointee.st_mode)) }
                    else { try check(chmod(path, attr.pointee.st_mode)) }
                }
                if valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID) != 0 {
                    let uid = valid & FUSE_SET_ATTR_UID != 0 ? attr.pointee.st_uid : uid_t.max
                    let gid = valid & FUSE_SET_ATTR_GID != 0 ? attr.pointee.st_gid : gid_t.max
                    try check(fchownat(fd, "", uid, gid, fbshim_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
                }
                if valid & FUSE_SET_ATTR_SIZE != 0 {
                    try asCallerWithoutFsetid { () throws(SysError) in
                        if let fh { try check(ftruncate(fh, attr.pointee.st_size)) }
                        else { try check(truncate(path, attr.pointee.st_size)) }
                    }
                }
                if valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME) != 0 {
                    var tv = [timespec(tv_sec: 0, tv_nsec: fbshim_UTIME_OMIT),
                              timespec(tv_sec: 0, tv_nsec: fbshim_UTIME_OMIT)]
                    if valid & FUSE_SET_ATTR_ATIME_NOW != 0 { tv[0].tv_nsec = fbshim_UTIME_NOW }
                    else if valid & FUSE_SET_ATTR_ATIME != 0 { tv[0] = attr.pointee.st_atim }
                    if valid & FUSE_SET_ATTR_MTIME_NOW != 0 { tv[1].tv_nsec = fbshim_UTIME_NOW }
                    else if valid & FUSE_SET_ATTR_MTIME != 0 { tv[1] = attr.pointee.st_mtim }
                    if let fh { try check(futimens(fh, tv)) }
                    else { try check(utimensat(fd, "", tv, fbshim_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) }
                }
                return try attributes(fd)
            }
            r.attr(st, options.attrTimeout)
        } catch { r.fail(error) }
    }

    func readlink(_ r: consuming Request, _ ino: UInt64) {
        do throws(SysError) {
            var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = try nodes.withFd(ino) { (fd) throws(SysError) -> Int in
                let n = readlinkat(fd, "", &buf, Int(PATH_MAX))
                if n < 0 { throw SysError.current }
                return n
            }
            buf[n] = 0
            r.readlink(buf)
        } catch { r.fail(error) }
    }

    func mknod(_ r: consuming Request, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ mode: mode_t, _ rdev: dev_t) {
        makeNode(r, parent, name) { (p) throws(SysError) in try check(mknodat(p, name, mode, rdev)) }
    }

    func mkdir(_ r: consuming Request, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ mode: mode_t) {
        makeNode(r, parent, name) { (p) throws(SysError) in try check(mkdirat(p, name, mode)) }
    }

    func symlink(_ r: consuming Request, _ target: UnsafePointer<CChar>, _ parent: UInt64, _ name: UnsafePointer<CChar>) {
        makeNode(r, parent, name) { (p) throws(SysError) in try check(symlinkat(target, p, name)) }
    }

    private func makeNode(_ r: consuming Request, _ parent: UInt64, _ name: UnsafePointer<CChar>,
                          _ make: (Int32) throws(SysError) -> Void) {
        do throws(SysError) {
            let e = try nodes.withFd(parent) { (p) throws(SysError) in
                do throws(SysError) {
                    try make(p)
                } catch where error.code == EEXIST && r.mayHaveTakenEffect {
                    // Resent, and the first attempt made it: answer as it would have.
                    r.recognised()
                }
                return try makeEntry(p, name, parent: parent, fresh: true)
            }
            r.entry(e)
        } catch { r.fail(error) }
    }

    func link(_ r: consuming Request, _ ino: UInt64, _ newParent: UInt64, _ newName: UnsafePointer<CChar>) {
        do throws(SysError) {
            let e = try nodes.withFd(ino) { (fd) throws(SysError) in
                try nodes.withFd(newParent) { (p) throws(SysError) in
                    do throws(SysError) {
                        // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, which a non-root
                        // caller lacks; the /proc link is checked as the caller.
                        if fbshim_thread_is_caller() != 0 {
                            try check(linkat(AT_FDCWD, procPath(fd), p, newName, AT_SYMLINK_FOLLOW))
                        } else {
                            try check(linkat(fd, "", p, newName, fbshim_AT_EMPTY_PATH))
                        }
                    } catch where error.code == EEXIST && r.mayHaveTakenEffect {
                        r.recognised()
                    }
                    return try makeEntry(p, newName, parent: newParent)
                }
            }
            r.entry(e)
        } catch { r.fail(error) }
    }

    func unlink(_ r: consuming Request, _ parent: UInt64, _ name: UnsafePointer<CChar>, flags: Int32) {
        do throws(SysError) {
            try nodes.withFd(parent) { (p) throws(SysError) in try check(unlinkat(p, name, flags)) }
            r.error(0)
        } catch { r.fail(error) }
    }

    func rename(_ r: consuming Request, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ newParent: UInt64,
                _ newName: UnsafePointer<CChar>, _ flags: UInt32) {
        do throws(SysError) {
            try nodes.withFd(parent) { (p) throws(SysError) in
                try nodes.withFd(newParent) { (np) throws(SysError) in
                    try check(fbshim_renameat2(p, name, np, newName, flags))
                }
            }
            r.error(0)
        } catch { r.fail(error) }
    }

    func statfs(_ r: consuming Request, _ ino: UInt64) {
        var s = statvfs()
        if fstatvfs(rootFd, &s) != 0 { return r.error(errno) }
        r.statfs(s)
    }

    func access(_ r: consuming Request, _ ino: UInt64, _ mask: Int32) {
        do throws(SysError) {
            // AT_EACCESS: checked with the thread's file-system ids (the
            // caller's), not its real ones (root's).
            try nodes.withFd(ino) { (fd) throws(SysError) in
                try check(faccessat(fd, "", mask, fbshim_AT_EMPTY_PATH | AT_EACCESS))
            }
            r.error(0)
        } catch { r.fail(error) }
    }
}
