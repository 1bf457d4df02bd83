// Server options shared by the commands that start the reference server.
// The defaults are ServerOptions' own (one place); the keys, ranges and help
// follow the workload's "server" object (workloads/README.md).
import Workload
import ArgumentParser
import Contract
import FuseServer

/// Command-line form of ServerOptions.
struct ServerOptionGroup: ParsableArguments {
    private static let defaults = ServerOptions()

    @Option(help: "Maximum worker threads of libfuse's multithreaded loop.")
    var threads: Int = Self.defaults.threads
    @Flag(help: "One /dev/fuse clone fd per worker thread.")
    var cloneFd = Self.defaults.cloneFd
    @Option(help: "Seconds the kernel may cache a name lookup.")
    var entryTimeout: Double = Self.defaults.entryTimeout
    @Option(help: "Seconds the kernel may cache attributes.")
    var attrTimeout: Double = Self.defaults.attrTimeout
    @Flag(help: "Kernel write-back caching.")
    var writebackCache = Self.defaults.writebackCache
    @Option(help: "Largest WRITE request in bytes.")
    var maxWrite: Int = Self.defaults.maxWrite
    @Flag(inversion: .prefixedNo, help: "splice(2) READ replies of 8 KiB and more into /dev/fuse (copied, never moved).")
    var splice = Self.defaults.splice
    @Flag(inversion: .prefixedNo, help: "READDIRPLUS (only with an entry timeout above 0).")
    var readdirplus = Self.defaults.readdirplus
    @Flag(help: "Keep the page cache across opens.")
    var keepCache = Self.defaults.keepCache
    @Flag(inversion: .prefixedNo, help: "Extended attributes (--no-xattr: ENOSYS, as passthrough_ll by default).")
    var xattr = Self.defaults.xattr
    @Flag(name: .customLong("killpriv-v2"), inversion: .prefixedNo,
          help: "FUSE_HANDLE_KILLPRIV_V2: the server kills suid/sgid, so the kernel stops asking for security.capability before every write.")
    var killPrivV2 = Self.defaults.killPrivV2
    @Flag(inversion: .prefixedNo,
          help: "FOPEN_NOFLUSH where the backing file system has no flush operation (ext4, xfs, btrfs, tmpfs): close(2) sends no FLUSH.")
    var skipFlush = Self.defaults.skipFlush
    @Flag(inversion: .prefixedNo,
          help: "FUSE passthrough: reads, writes and mmap of open files go straight to the backing file (kernel 6.9+). The kernel allows it without write-back caching only: with --writeback-cache it is off.")
    var passthrough = Self.defaults.passthrough
    @Flag(name: .customLong("idle-backing-files"), inversion: .prefixedNo,
          help: "With passthrough: a file's backing id stays registered after its last close, until the kernel forgets the file, and the next open reuses it without opening the backing file.")
    var idleBackingFiles = Self.defaults.idleBackingFiles
    @Flag(help: "FUSE over io_uring: requests and replies through one ring per CPU (kernel 6.14+; needs /sys/module/fuse/parameters/enable_uring set to Y).")
    var ioUring = Self.defaults.ioUring
    @Option(help: "Ring entries per queue with --io-uring.")
    var ioUringQueueDepth: Int = Self.defaults.ioUringQueueDepth
    @Flag(inversion: .prefixedNo, help: "FUSE_PARALLEL_DIROPS: lookups and readdirs in one directory run in parallel.")
    var parallelDirops = Self.defaults.parallelDirops
    @Flag(inversion: .prefixedNo, help: "FUSE_AUTO_INVAL_DATA: cached pages are dropped when a refreshed mtime or size changed.")
    var autoInvalData = Self.defaults.autoInvalData
    @Option(help: "Node-id scheme: handle (survives a restart) or ephemeral (a counter).")
    var nodeIds: NodeIdScheme = Self.defaults.nodeIds
    @Option(help: "Most O_PATH descriptors the node table keeps open.")
    var fdCacheCapacity: Int = Self.defaults.fdCacheCapacity
    @Flag(help: "Mount option allow_other: every user's processes may use the mount.")
    var allowOther = Self.defaults.allowOther
    @Flag(help: "Mount option default_permissions: the kernel checks permissions from mode and owner.")
    var defaultPermissions = Self.defaults.defaultPermissions
    @Option(name: [.customShort("o"), .customLong("mount-option")],
            help: ArgumentHelp("Further mount options, comma-separated (repeatable), e.g. -o max_read=131072.",
                               valueName: "option,..."))
    var mountOption: [String] = []
    @Flag(inversion: .prefixedNo,
          help: "Run creation and permission-relevant requests with the caller's fsuid, fsgid and groups (--no-caller-credentials: as root).")
    var callerCredentials = Self.defaults.callerCredentials

    func validate() throws {
        guard threads >= 1 && threads <= 256 else {
            throw ValidationError("--threads must be between 1 and 256, got \(threads)")
        }
        guard entryTimeout >= 0, attrTimeout >= 0 else {
            throw ValidationError("--entry-timeout and --attr-timeout must be 0 or more seconds")
        }
        guard fdCacheCapacity >= 64 && fdCacheCapacity <= 1_000_000 else {
            throw ValidationError("--fd-cache-capacity must be between 64 and 1000000, got \(fdCacheCapacity)")
        }
        guard ioUringQueueDepth >= 1 && ioUringQueueDepth <= 1024 else {
            throw ValidationError("--io-uring-queue-depth must be between 1 and 1024, got \(ioUringQueueDepth)")
        }
        guard maxWrite >= 4096 && maxWrite <= 1 << 20 else {
            throw ValidationError("--max-write must be between 4096 and 1048576 bytes, got \(maxWrite)")
        }
        for o in mountOptions where ServerOptions.checkMountOption(o) == nil {
            throw ValidationError("-o: \"\(o)\" is not a mount option such as max_read=131072 (fd, rootmode, "
                                  + "user_id and group_id are set by the server)")
        }
    }

    /// -o values split at commas.
    private var givenMountOptions: [String] { mountOption.flatMap { $0.split(separator: ",").map(String.init) } }

    /// -o values but allow_other and default_permissions, which count as their flags.
    var mountOptions: [String] {
        givenMountOptions.filter { $0 != "allow_other" && $0 != "default_permissions" }
    }

    var serverOptions: ServerOptions {
        var o = ServerOptions()
        o.threads = threads
        o.cloneFd = cloneFd
        o.entryTimeout = entryTimeout
        o.attrTimeout = attrTimeout
        o.writebackCache = writebackCache
        o.maxWrite = maxWrite
        o.splice = splice
        o.readdirplus = readdirplus
        o.keepCache = keepCache
        o.nodeIds = nodeIds
        o.xattr = xattr
        o.killPrivV2 = killPrivV2
        o.skipFlush = skipFlush
        o.idleBackingFiles = idleBackingFiles
        o.passthrough = passthrough
        o.parallelDirops = parallelDirops
        o.autoInvalData = autoInvalData
        o.ioUring = ioUring
        o.ioUringQueueDepth = ioUringQueueDepth
        o.fdCacheCapacity = fdCacheCapacity
        let named = Set(givenMountOptions)
        o.allowOther = allowOther || named.contains("allow_other")
        o.defaultPermissions = defaultPermissions || named.contains("default_permissions")
        o.mountOptions = mountOptions
        o.callerCredentials = callerCredentials
        return o
    }
}

extension NodeIdScheme: ExpressibleByArgument {}
