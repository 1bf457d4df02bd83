// `fusebench resolve-node`: resolves node ids handed out by another server
// process over the same backing directory, as a restarted server would.
import Workload
import ArgumentParser
import Contract
import FuseServer
import Glibc
import ResultModel
import CFuseShim

/// Resolves node ids to backing inodes.
struct ResolveNodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve-node",
        abstract: "Resolve handle-scheme node ids against a backing directory and print each inode.",
        discussion: "Prints one line per id: the id in hex, then 'ino=N' or the error (ESTALE when the file is gone)."
    )

    @Option(help: "The backing directory.")
    var source: String

    @Option(help: "Node-id scheme of the server being imitated.")
    var nodeIds: NodeIdScheme = .handle

    @Argument(help: "Node ids (decimal or 0x-prefixed hex).")
    var ids: [String]

    func run() throws {
        let stats = StatsRegion()
        let fs: PassthroughFS
        var options = ServerOptions()
        options.nodeIds = nodeIds
        do { fs = try PassthroughFS(source: source, options: options, stats: stats) } catch {
            throw CLIError.environment("cannot open \(source) with handle node ids: \(errnoText(error.code))")
        }
        for text in ids {
            let id = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
            guard let id else { throw CLIError.input("'\(text)' is not a node id (decimal or 0x hex)") }
            do {
                let st = try fs.nodes.withFd(id) { (fd) throws(SysError) -> stat in
                    var st = stat()
                    if fstatat(fd, "", &st, fbshim_AT_EMPTY_PATH) != 0 { throw SysError.current }
                    return st
                }
                print("0x\(String(id, radix: 16)) ino=\(st.st_ino)")
            } catch {
                print("0x\(String(id, radix: 16)) \(errnoName(error.code))")
            }
        }
    }
}
