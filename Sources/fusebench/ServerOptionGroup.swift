// Server options shared by the commands that start the reference server.
import ArgumentParser
import Contract
import FuseServer

/// Command-line form of ServerOptions.
struct ServerOptionGroup: ParsableArguments {
    @Option(help: "Maximum worker threads of libfuse's multithreaded loop.")
    var threads: Int = 4
    @Flag(help: "One /dev/fuse clone fd per worker thread.")
    var cloneFd = false
    @Option(help: "Seconds the kernel may cache a name lookup.")
    var entryTimeout: Double = 1.0
    @Option(help: "Seconds the kernel may cache attributes.")
    var attrTimeout: Double = 1.0
    @Flag(help: "Kernel write-back caching.")
    var writebackCache = false
    @Option(help: "Largest WRITE request in bytes.")
    var maxWrite: Int = 128 * 1024
    @Flag(inversion: .prefixedNo, help: "splice(2) READ replies of 8 KiB and more into /dev/fuse (copied, never moved).")
    var splice = true
    @Flag(inversion: .prefixedNo, help: "READDIRPLUS (only with an entry timeout above 0).")
    var readdirplus = true
    @Flag(help: "Keep the page cache across opens.")
    var keepCache = false
    @Flag(inversion: .prefixedNo, help: "Extended attributes (--no-xattr: ENOSYS, as passthrough_ll by default).")
    var xattr = true
    @Flag(name: .customLong("killpriv-v2"), inversion: .prefixedNo,
          help: "FUSE_HANDLE_KILLPRIV_V2: the server kills suid/sgid, so the kernel stops asking for security.capability before every write.")
    var killPrivV2 = true
    @Flag(inversion: .prefixedNo,
          help: "FOPEN_NOFLUSH where the backing file system has no flush operation (ext4, xfs, btrfs, tmpfs): close(2) sends no FLUSH.")
    var skipFlush = true
    @Option(help: "Node-id scheme: handle (survives a restart) or ephemeral (a counter).")
    var nodeIds: NodeIdScheme = .handle

    func validate() throws {
        guard threads >= 1 && threads <= 256 else {
            throw ValidationError("--threads must be between 1 and 256, got \(threads)")
        }
        guard entryTimeout >= 0, attrTimeout >= 0 else {
            throw ValidationError("--entry-timeout and --attr-timeout must be 0 or more seconds")
        }
        guard maxWrite >= 4096 && maxWrite <= 1 << 20 else {
            throw ValidationError("--max-write must be between 4096 and 1048576 bytes, got \(maxWrite)")
        }
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
        return o
    }
}

extension NodeIdScheme: ExpressibleByArgument {}
