// `fusebench spawner`: the helper process that starts servers for the
// harness (see Supervisor/Spawner.swift). Not for users.
import Workload
import ArgumentParser
import Supervisor

/// The spawner process.
struct SpawnerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spawner", abstract: "Start server processes for the harness (internal).",
        shouldDisplay: false)

    @Option var socketFd: Int32
    @Option var lifelineFd: Int32

    func run() throws {
        watchLifeline(lifelineFd)
        Spawner.serve(socket: socketFd)
    }
}
