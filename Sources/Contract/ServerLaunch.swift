// How the harness starts a reference server: which descriptors it hands
// over, in which slots, and the options, as one value. The harness builds
// it and passes it to `fusebench serve --launch-json`; the server decodes
// it. Neither side spells a descriptor number anywhere else.

/// The descriptors a harness-started server receives, in fixed slots.
public enum LaunchSlot: Int32, CaseIterable, Sendable {
    /// The /dev/fuse descriptor the harness mounted.
    case fuse = 3
    /// Pipe the server writes "ready" to once FUSE_INIT was handled.
    case ready = 4
    /// Read end of the harness's lifeline pipe: the server exits at its EOF.
    case lifeline = 5
    /// A warm standby waits on this pipe before it serves.
    case standbyGo = 6
    /// Socket to the handover-state keeper.
    case keeper = 7
    /// Pipe the crash hooks write a byte to just before the server dies:
    /// the harness's death notice, without polling.
    case deathNotice = 8
}

/// Everything a harness-started server needs to know.
public struct ServerLaunch: Codable, Equatable, Sendable {
    /// The backing directory.
    public var source: String
    /// The mountpoint (already mounted on the fuse descriptor).
    public var mountpoint: String
    /// The shared statistics file.
    public var statsPath: String
    /// Server options.
    public var options: ServerOptions
    /// How this instance relates to earlier ones.
    public var restart: RestartOptions
    /// Whether the server waits on `.standbyGo` before serving.
    public var standby: Bool
    /// Whether the server has a keeper socket in `.keeper`.
    public var keeper: Bool

    /// A launch.
    public init(source: String, mountpoint: String, statsPath: String, options: ServerOptions,
                restart: RestartOptions, standby: Bool, keeper: Bool) {
        self.source = source
        self.mountpoint = mountpoint
        self.statsPath = statsPath
        self.options = options
        self.restart = restart
        self.standby = standby
        self.keeper = keeper
    }

    /// The slots this launch uses.
    public var slots: [LaunchSlot] {
        LaunchSlot.allCases.filter { ($0 != .standbyGo || standby) && ($0 != .keeper || keeper) }
    }

    /// The restart options with the slot descriptors filled in, as the
    /// server uses them.
    public var resolvedRestart: RestartOptions {
        var r = restart
        r.standbyFd = standby ? LaunchSlot.standbyGo.rawValue : nil
        r.stateFd = keeper ? LaunchSlot.keeper.rawValue : nil
        return r
    }
}
