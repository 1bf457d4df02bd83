// `fusebench serve`: the reference server on its own, or as started by the
// harness on a /dev/fuse descriptor it mounted.
import ArgumentParser
import Foundation
import CFuseShim
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

    @Argument(help: "Where to mount (ignored with --fuse-fd, which names the mount already made).")
    var mountpoint: String

    @OptionGroup var server: ServerOptionGroup

    @Option(help: ArgumentHelp("An open /dev/fuse descriptor already mounted by the caller.", visibility: .hidden))
    var fuseFd: Int32?

    @Option(help: ArgumentHelp("Descriptor to write 'ready' to once FUSE_INIT was handled.", visibility: .hidden))
    var readyFd: Int32?

    @Option(help: "File for the shared statistics region.")
    var statsFile: String?

    @Option(help: ArgumentHelp("Exit when this process (the harness) dies.", visibility: .hidden))
    var parentPid: Int32?

    @Option(help: ArgumentHelp("Server options as JSON (from the harness); replaces the option flags.",
                               visibility: .hidden))
    var configJson: String?

    func validate() throws {
        var st = stat()
        guard stat(source, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            throw ValidationError("--source \(source) is not a directory")
        }
    }

    func run() throws {
        if let parentPid {
            _ = fbshim_set_parent_death_signal(SIGKILL)
            if getppid() != parentPid { throw ExitCode(1) }
        }
        umask(0)
        raiseDescriptorLimit()
        let stats: StatsRegion
        do {
            stats = try statsFile.map { (p) throws(SysError) in try StatsRegion(path: p, create: true) } ?? StatsRegion()
        } catch {
            throw CLIError.failed("cannot create the stats file \(statsFile ?? ""): \(errnoText(error.code))")
        }
        var options = server.serverOptions
        if let configJson {
            do { options = try JSONDecoder().decode(ServerOptions.self, from: Data(configJson.utf8)) } catch {
                throw CLIError.input("--config-json is not a server configuration: \(error)")
            }
        }
        let fs: PassthroughFS
        do {
            fs = try PassthroughFS(source: source, options: options, stats: stats)
        } catch where error.code == EOPNOTSUPP {
            throw CLIError.environment("""
                the backing file system of \(source) has no 8-byte (inode, generation) file handles, \
                which --node-ids handle needs (ext4 and xfs have them); use --node-ids ephemeral \
                or a backing directory on ext4
                """)
        } catch {
            throw CLIError.failed("cannot open the backing directory \(source): \(errnoText(error.code))")
        }
        let ready = readyFd
        let target: MountTarget = fuseFd.map { .fuseFd($0) } ?? .path(mountpoint)
        try FuseSessionRunner.run(fs, target: target, fsname: source) {
            if let ready {
                _ = write(ready, "ready\n", 6)
                close(ready)
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
