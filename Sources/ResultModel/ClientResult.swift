// Real programs as the load: what each client did, and the
// client-by-strategy matrix of a document.

/// One step of a client (setup, run or verify): a shell command.
public struct ClientStep: Codable, Equatable, Sendable {
    /// The command as run (placeholders expanded).
    public var command: String
    /// Its exit code, when it exited.
    public var exitStatus: Int?
    /// The signal that ended it, when one did.
    public var signal: Int?
    /// Killed at the client's timeout.
    public var timedOut: Bool
    /// Wall-clock seconds from start to exit.
    public var seconds: Double
    /// The last lines of its standard error.
    public var stderrTail: String

    /// A step.
    public init(command: String, exitStatus: Int?, signal: Int?, timedOut: Bool, seconds: Double, stderrTail: String) {
        self.command = command
        self.exitStatus = exitStatus
        self.signal = signal
        self.timedOut = timedOut
        self.seconds = seconds
        self.stderrTail = stderrTail
    }

    /// Exited with 0 in time.
    public var succeeded: Bool { exitStatus == 0 && !timedOut }

    /// "exit 0", "exit 1", "killed at its timeout (30 s)", "signal 9".
    public var outcome: String {
        if timedOut { return "killed at its timeout" }
        if let s = signal { return "killed by signal \(s)" }
        return "exit \(exitStatus ?? -1)"
    }
}

/// What one client did in one run.
public struct ClientResult: Codable, Equatable, Sendable {
    /// The client's name.
    public var name: String
    /// Its setup, when it has one.
    public var setup: ClientStep?
    /// The program under faults (absent when the setup failed).
    public var run: ClientStep?
    /// Its verification, when it has one (absent when the run failed).
    public var verify: ClientStep?
    /// Seconds into the measured phase at which the run started.
    public var startSeconds: Double
    /// Faults injected while it ran.
    public var faultsDuring: Int
    /// Setup, run and verify all succeeded.
    public var passed: Bool

    /// A client's result.
    public init(name: String, setup: ClientStep?, run: ClientStep?, verify: ClientStep?, startSeconds: Double,
                faultsDuring: Int) {
        self.name = name
        self.setup = setup
        self.run = run
        self.verify = verify
        self.startSeconds = startSeconds
        self.faultsDuring = faultsDuring
        passed = (setup?.succeeded ?? true) && (run?.succeeded ?? false) && (verify?.succeeded ?? true)
    }

    /// Why it failed ("run: exit 1: disk I/O error"), or nil.
    public var failure: String? {
        guard !passed else { return nil }
        for (what, step) in [("setup", setup), ("run", run), ("verify", verify)] {
            guard let step, !step.succeeded else { continue }
            let last = step.stderrTail.split(separator: "\n").last.map { ": \($0)" } ?? ""
            return "\(what): \(step.outcome)\(last)"
        }
        return "run: not started"
    }
}

/// One cell of the client-by-strategy matrix.
public struct ClientCell: Codable, Equatable, Sendable {
    /// The workload.
    public var workload: String
    /// The client.
    public var client: String
    /// The target ("reference", "native", a peer's name).
    public var target: String
    /// The restart strategy ("none" without faults).
    public var strategy: String
    /// The trial, when repeated.
    public var trial: Int?
    /// "pass" or "fail".
    public var outcome: String
    /// Seconds the run step took.
    public var seconds: Double?
    /// Faults while it ran.
    public var faultsDuring: Int
    /// Why it failed.
    public var detail: String?

    /// The matrix of a document's runs with clients, in run order.
    public static func matrix(_ runs: [RunResult]) -> [ClientCell] {
        runs.flatMap { r in
            (r.clients ?? []).map { c in
                ClientCell(workload: r.workloadName, client: c.name, target: r.target, strategy: r.strategy ?? "none",
                           trial: r.trial, outcome: c.passed ? "pass" : "fail", seconds: c.run?.seconds,
                           faultsDuring: c.faultsDuring, detail: c.failure)
            }
        }
    }

    /// The column a cell belongs to: the strategy, or the target without one.
    public var column: String { strategy == "none" ? target : strategy }

    /// Rows (clients) and columns, in order of first appearance.
    public static func axes(_ cells: [ClientCell]) -> (rows: [String], columns: [String]) {
        var rows: [String] = [], columns: [String] = []
        for c in cells {
            if !rows.contains(c.client) { rows.append(c.client) }
            if !columns.contains(c.column) { columns.append(c.column) }
        }
        return (rows, columns)
    }
}
