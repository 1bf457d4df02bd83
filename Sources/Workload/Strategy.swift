// Restart strategies: what happens to the connection, the node ids and the
// open files when the server dies, and how the next server starts.
import LoadGen
import Contract
import FuseServer

/// A named restart strategy.
public enum Strategy: String, CaseIterable, Codable, Sendable {
    /// What FUSE servers do today: nobody keeps the connection; lazy
    /// unmount and a fresh mount. Applications see ENOTCONN, ENOENT, EBADF.
    case remount
    /// The harness keeps /dev/fuse; the new server resumes the connection;
    /// FUSE_NOTIFY_RESEND re-delivers requests in flight; handle node ids
    /// and file handles are resolved on first use; nothing up front.
    case handoverLazy = "handover-lazy"
    /// handover-lazy, and before serving the new server invalidates every
    /// node id and entry the earlier instances handed out (from a journal).
    case handoverEager = "handover-eager"
    /// handover-lazy plus FUSE_NOTIFY_INC_EPOCH: dentries are looked up
    /// again, lazily, on the next walk.
    case handoverEpoch = "handover-epoch"
    /// The new server answers ESTALE for every node id and file handle it
    /// did not hand out itself ("mark every inode bad").
    case handoverMarkbad = "handover-markbad"
    /// Ephemeral (counter) node ids and no state, as a typical server gets
    /// from a handover; unknown ids and handles are refused and counted.
    case handoverNaive = "handover-naive"
    /// handover-lazy, and the open-file table outlives the server: the
    /// keeper holds a duplicate of every open file's descriptor and gives
    /// them to the next server, which takes the handles over as they are:
    /// nothing is reopened or revalidated, and files unlinked while open
    /// survive the restart.
    case handoverState = "handover-state"
    /// handover-lazy with bare inode numbers as node ids (no generation),
    /// as a server keyed on st_ino has: shows what generations protect
    /// against when inode numbers are reused during the outage.
    case handoverInode = "handover-inode"
    /// Composed: handover-state's kept open files, and handover-epoch's
    /// FUSE_NOTIFY_INC_EPOCH.
    case handoverStateEpoch = "handover-state-epoch"
    /// Composed: handover-state's kept open files, and handover-eager's
    /// storm before serving.
    case handoverStateEager = "handover-state-eager"

    /// The independent parts a strategy is made of.
    public var parts: StrategyParts {
        switch self {
        case .remount: return StrategyParts(keeper: .none, nodeIds: .handle, revalidation: .none, state: .none)
        case .handoverLazy: return StrategyParts(keeper: .harness, nodeIds: .handle, revalidation: .none, state: .none)
        case .handoverEager: return StrategyParts(keeper: .harness, nodeIds: .handle, revalidation: .eager, state: .none)
        case .handoverEpoch: return StrategyParts(keeper: .harness, nodeIds: .handle, revalidation: .epoch, state: .none)
        case .handoverMarkbad:
            return StrategyParts(keeper: .harness, nodeIds: .handle, revalidation: .markBad, state: .none)
        case .handoverNaive: return StrategyParts(keeper: .harness, nodeIds: .ephemeral, revalidation: .none, state: .none)
        case .handoverState:
            return StrategyParts(keeper: .harness, nodeIds: .handle, revalidation: .none, state: .openFiles)
        case .handoverInode: return StrategyParts(keeper: .harness, nodeIds: .inode, revalidation: .none, state: .none)
        case .handoverStateEpoch:
            return StrategyParts(keeper: .harness, nodeIds: .handle, revalidation: .epoch, state: .openFiles)
        case .handoverStateEager:
            return StrategyParts(keeper: .harness, nodeIds: .handle, revalidation: .eager, state: .openFiles)
        }
    }

    /// Whether the harness keeps the /dev/fuse descriptor across deaths.
    public var keepsConnection: Bool { self != .remount }

    /// Whether applications should see no errors at all.
    public var claimsNoErrors: Bool {
        [.handoverLazy, .handoverEager, .handoverEpoch, .handoverState, .handoverInode, .handoverStateEpoch,
         .handoverStateEager].contains(self)
    }

    /// Whether no acknowledged write may be lost and no read may return
    /// another file's data. handover-naive makes no such claim: its counter
    /// ids start over in each server, so an id the kernel cached can name
    /// another file after a restart; nor does handover-inode, whose ids
    /// name another file once an inode number is reused.
    public var claimsIntegrity: Bool { self != .handoverNaive && self != .handoverInode }

    /// Node-id scheme this strategy forces, if any.
    public var forcedNodeIds: NodeIdScheme? {
        switch self {
        case .handoverNaive: return .ephemeral
        case .handoverInode: return .inode
        default: return nil
        }
    }

    /// Whether the keeper holds the open-file table across restarts.
    public var keepsOpenFiles: Bool { parts.state == .openFiles }

    /// The new server invalidates every node id and entry handed out before.
    public var eagerRevalidation: Bool { parts.revalidation == .eager }

    /// The keeper sends FUSE_NOTIFY_INC_EPOCH with the resend.
    public var incrementsEpoch: Bool { parts.revalidation == .epoch }

    /// Whether the warm standby may serve before the dead server's threads
    /// are out and FUSE_NOTIFY_RESEND has gone: its gate has nothing to do
    /// that needs the dead server quiet. Not with kept open files (a dying
    /// thread may still be handing the keeper a file) nor with an eager
    /// storm (it may still be appending to the journal the storm reads).
    public var standbyGoesAtDeathNotice: Bool { parts.state == .none && parts.revalidation != .eager }

    /// Options of server instance `instance` (1 for the first).
    public func restartOptions(instance: UInt32, initPath: String?, journal: String?, intents: String?,
                               backingIds: String? = nil) -> RestartOptions {
        var r = RestartOptions()
        r.instance = instance
        r.resumeInit = keepsConnection && instance > 1 ? initPath : nil
        // Resent requests only exist when the connection is kept; the naive
        // server keeps nothing.
        r.intents = keepsConnection && self != .handoverNaive ? intents : nil
        // The passthrough backing files the connection has registered: a
        // later instance must reuse them (BackingFiles); the naive server
        // knows nothing of them.
        r.backingIds = keepsConnection && self != .handoverNaive ? backingIds : nil
        r.connectionOutlivesServer = keepsConnection
        switch self {
        case .remount, .handoverLazy, .handoverEpoch, .handoverState, .handoverInode, .handoverStateEpoch:
            r.staleHandles = .reopen
        case .handoverEager, .handoverStateEager:
            r.staleHandles = .reopen
            r.journal = journal
            r.eagerRevalidation = eagerRevalidation
        case .handoverMarkbad:
            r.staleHandles = .refuse
            r.refuseUnknownNodes = instance > 1
        case .handoverNaive:
            r.staleHandles = .refuse
        }
        return r
    }

    /// Names, for messages.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

/// The independent parts of a restart strategy: who keeps the connection,
/// the node-id scheme, how the kernel's caches are revalidated, and what
/// state outlives the server.
public struct StrategyParts: Equatable, Sendable {
    /// Who keeps /dev/fuse across a death.
    public enum Keeper: String, Sendable { case none, harness }
    /// How what the kernel cached is checked after a restart.
    public enum Revalidation: String, Sendable {
        /// Nothing: node ids resolve on use, cached attributes and entries
        /// live out their timeouts.
        case none
        /// A storm of invalidations before serving (from a journal).
        case eager
        /// FUSE_NOTIFY_INC_EPOCH: every dentry is looked up again.
        case epoch
        /// ESTALE for everything an earlier server handed out.
        case markBad = "mark-bad"
    }
    /// What outlives the server besides the connection.
    public enum KeptState: String, Sendable {
        case none
        /// The open-file table, held by the keeper.
        case openFiles = "open-files"
    }

    public var keeper: Keeper
    public var nodeIds: NodeIdScheme
    public var revalidation: Revalidation
    public var state: KeptState

    public init(keeper: Keeper, nodeIds: NodeIdScheme, revalidation: Revalidation, state: KeptState) {
        self.keeper = keeper
        self.nodeIds = nodeIds
        self.revalidation = revalidation
        self.state = state
    }

    /// "keeper harness, ids handle, revalidation epoch, state open-files".
    public var description: String {
        "keeper \(keeper.rawValue), ids \(nodeIds.rawValue), revalidation \(revalidation.rawValue), state \(state.rawValue)"
    }
}
