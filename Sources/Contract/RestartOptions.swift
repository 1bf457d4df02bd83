// How a server instance relates to the instances before it: set by the
// harness for each start, not by the workload.

/// What to do with a file handle an earlier server instance handed out.
public enum StaleHandlePolicy: String, Sendable, Codable {
    /// Reopen the file by its node id and the request's open flags.
    case reopen
    /// Answer EBADF (what a server that knows nothing can do safely).
    case refuse
}

/// Per-instance options of a server that may take over a live connection.
public struct RestartOptions: Sendable, Codable, Equatable {
    /// This instance's tag, stored in the high 32 bits of every file handle.
    public var instance: UInt32 = 1
    /// Path of the connection's saved FUSE_INIT request: when set, the
    /// server resumes an initialised connection instead of waiting for INIT.
    public var resumeInit: String?
    /// Handles of earlier instances.
    public var staleHandles: StaleHandlePolicy = .reopen
    /// Answer ESTALE for node ids this instance did not hand out itself
    /// ("mark every inode bad").
    public var refuseUnknownNodes = false
    /// Journal of (parent, name, node id) handed out, appended by every
    /// instance; nil for no journal.
    public var journal: String?
    /// Before serving, invalidate every node id and entry in the journal.
    public var eagerRevalidation = false
    /// Descriptor to wait on before serving: a warm standby is fully set up
    /// and starts reading /dev/fuse only once a byte (or EOF) arrives.
    public var standbyFd: Int32?
    /// Intent log shared by the instances of a connection, so that a resent
    /// non-idempotent request that already took effect is recognised; nil
    /// for none.
    public var intents: String?
    /// The connection's table of passthrough backing files by node id,
    /// shared by its instances (a later instance reuses the backing ids an
    /// earlier one registered: the kernel refuses a second backing file for
    /// a node that is still open); nil: this instance's own.
    public var backingIds: String?
    /// Socket to the keeper that holds a duplicate of every open file's
    /// descriptor across restarts (handover-state); nil for none.
    public var stateFd: Int32?
    /// The connection outlives this server (a keeper holds it for the
    /// next instance): the server leaves nothing registered on it that
    /// only it would close, such as idle passthrough backing files, which
    /// would hold their backing inodes after a crash until the unmount.
    public var connectionOutlivesServer = false

    /// Defaults: a fresh server, instance 1.
    public init() {}
}
