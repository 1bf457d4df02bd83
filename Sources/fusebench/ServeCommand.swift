// `fusebench serve`: the reference server on its own, or as started by the
// harness on a /dev/fuse descriptor it mounted.
import Workload
import ArgumentParser
import Foundation
import CFuseShim
import Contract
import FuseServer
import ResultModel
import Glibc

/// Runs the reference passthrough server.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the reference passthrough FUSE server over a backing directory."
    )

    @Option(help: "The backing directory.")
    var source: String

    @Argument(help: ArgumentHelp("""
        Where to mount, or /dev/fd/N: the descriptor of a connection already mounted by someone else (the \
        {mountpoint} of run --server with a handover strategy).
        """))
    var mountpoint: String

    @OptionGroup var server: ServerOptionGroup

    @Option(help: "File for the shared statistics region.")
    var statsFile: String?

    @Option(help: ArgumentHelp("""
        This server's instance number on its connection (1 for the first): file handles carry it, so that a \
        later instance tells an earlier one's handles from its own and reopens them. Give {instance} when another \
        harness restarts it (run --server with a handover strategy).
        """))
    var instance: UInt32 = 1

    @Option(help: ArgumentHelp("""
        A directory that outlives this server on its connection (give {state} when another harness restarts it): \
        the intent log that recognises resent requests, and the table of passthrough backing files, so that a \
        later instance finds them.
        """))
    var stateDir: String?

    @Option(help: ArgumentHelp("""
        A keeper socket inherited at this descriptor (give {keeper} with handover-state): every open file is \
        handed to the keeper, and a later instance takes the earlier ones' over before it serves (-1: none).
        """))
    var keeperFd: Int32?

    @Option(help: ArgumentHelp("""
        How the harness started this server (ServerLaunch as JSON): descriptors in their slots, options, \
        restart options; replaces the option flags.
        """, visibility: .hidden))
    var launchJson: String?

    func validate() throws {
        guard instance >= 1 else { throw ValidationError("--instance must be 1 or more") }
        var st = stat()
        guard stat(source, &st) == 0 else {
            throw ValidationError("--source \(source): \(String(cString: strerror(errno))); give the backing directory")
        }
        guard st.st_mode & S_IFMT == S_IFDIR else {
            throw ValidationError("--source \(source) is not a directory")
        }
    }

    func run() throws {
        guard geteuid() == 0 else {
            throw CLIError.environment("""
                fusebench serve needs root: node ids are backing file handles, opened with \
                open_by_handle_at (CAP_DAC_READ_SEARCH), and requests run with each caller's credentials \
                (setfsuid); run it as root
                """)
        }
        raiseDescriptorLimit()
        var launch: ServerLaunch?
        if let launchJson {
            do { launch = try JSONDecoder().decode(ServerLaunch.self, from: Data(launchJson.utf8)) } catch {
                throw CLIError.input("--launch-json is not a server launch description: \(error)")
            }
            watchLifeline(LaunchSlot.lifeline.rawValue)
            fbshim_set_death_notice_fd(LaunchSlot.deathNotice.rawValue)
        }
        if (launch?.options ?? server.serverOptions).ioUring, let problem = KernelFeatures.ioUringProblem() {
            throw CLIError.environment(problem)
        }
        umask(0)
        fbshim_disable_core_dumps()
        // A harness-started server's death leaves its address space to a
        // holder for a while (FUSE-RESTART.md, "Where a handover's time goes").
        let deferMs = Settings.deferTeardownMs ?? (launch != nil ? 250 : 0)
        if deferMs > 0 && fbshim_defer_teardown(Int32(deferMs)) < 0 {
            writeStderr("fusebench serve: cannot start the teardown holder (\(errnoText(errno))); the address space goes with the server\n")
        }
        defer { fbshim_release_teardown() }
        let statsPath = launch?.statsPath ?? statsFile
        let stats: StatsRegion
        do {
            stats = try statsPath.map { (p) throws(SysError) in try StatsRegion(path: p, create: true) } ?? StatsRegion()
        } catch {
            throw CLIError.failed("cannot create the stats file \(statsPath ?? ""): \(errnoText(error.code))")
        }
        let options = launch?.options ?? server.serverOptions
        reserveDescriptorTable(options.fdCacheCapacity + 4096)
        var restart = launch?.resolvedRestart ?? RestartOptions()
        if launch == nil {
            restart.instance = instance
            restart.stateFd = keeperFd.flatMap { $0 >= 0 ? $0 : nil }
            // A connection this server did not mount (/dev/fd/N), or one that
            // a state directory, a keeper or an earlier instance shares, is
            // kept for a later instance.
            restart.connectionOutlivesServer = mountpoint.hasPrefix("/dev/fd/") || stateDir != nil
                || restart.stateFd != nil || instance > 1
            if let stateDir {
                restart.intents = stateDir + "/intents"
                restart.backingIds = stateDir + "/backing-ids"
            }
        }
        let fs: PassthroughFS
        do {
            fs = try PassthroughFS(source: source, options: options, restart: restart, stats: stats)
        } catch where error.code == EOPNOTSUPP {
            throw CLIError.environment("""
                the backing file system of \(source) has no 8-byte (inode, generation) file handles, \
                which --node-ids handle needs (ext4 and xfs have them); use --node-ids ephemeral \
                or a backing directory on ext4
                """)
        } catch {
            throw CLIError.failed("cannot open the backing directory \(source): \(errnoText(error.code))")
        }
        // Test hook (documented in the README): instance N never serves, so
        // that the harness's recovery watchdog can be shown to work.
        if Settings.testHangInstance == restart.instance {
            while true { pause() }
        }
        fs.mountpoint = launch?.mountpoint ?? mountpoint
        let ready = launch != nil ? LaunchSlot.ready.rawValue : nil
        let target: MountTarget = launch != nil ? .fuseFd(LaunchSlot.fuse.rawValue) : .path(mountpoint)
        // A gated warm standby writes to the same pipe again once through
        // its gate (ServerIO), and closes it then.
        let gated = restart.standbyFd != nil && !fs.options.ioUring
        try FuseSessionRunner.run(fs, target: target, fsname: source) {
            if let ready {
                _ = write(ready, "ready\n", 6)
                if !gated { close(ready) }
            }
        }
    }
}

/// Raises RLIMIT_NOFILE's soft limit to the hard limit.
func raiseDescriptorLimit() {
    var rl = rlimit()
    if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 && rl.rlim_cur < rl.rlim_max {
        rl.rlim_cur = rl.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl)
    }
}

/// Grows this process's descriptor table to `count` slots now, before it
/// serves. The kernel grows the table by doubling, and in a process with
/// several threads each growth waits for an RCU grace period while every
/// thread that opens a descriptor waits for it (expand_fdtable in
/// fs/file.c). A server started under load grows its table from 64 to
/// hundreds of descriptors in its first milliseconds: on a 2-vCPU machine
/// that held a new server's threads for tens of ms after each handover.
/// Tables never shrink, so one descriptor placed high and closed again
/// keeps the room. The table costs 8 bytes and 2 bits per slot.
func reserveDescriptorTable(_ count: Int) {
    var rl = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return }
    let top = Int32(clamping: min(count, Int(clamping: rl.rlim_cur)) - 1)
    let probe = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard probe >= 0 else { return }
    let high = fcntl(probe, F_DUPFD_CLOEXEC, top)
    if high >= 0 { close(high) }
    close(probe)
}

/// Kills this process when the lifeline pipe reaches EOF (the harness died).
func watchLifeline(_ fd: Int32) {
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    Thread.detachNewThread {
        var b: UInt8 = 0
        while true {
            let n = read(fd, &b, 1)
            if n < 0 && errno == EINTR { continue }
            break
        }
        kill(getpid(), SIGKILL)
    }
}
