// Real programs as the load: a client is a shell command run inside the
// run's mount namespace, with its working directory on the mount. The
// format is in workloads/README.md ("Clients").
import Foundation
import ResultModel

/// One real-program client of a workload.
public struct ClientSpec: Codable, Equatable, Sendable {
    /// Short name ("sqlite").
    public var name: String
    /// Runs before the measured phase (no faults yet); a failure fails the client.
    public var setup: String?
    /// The program, run during the measured phase, under faults.
    public var run: String
    /// Runs after the measured phase (faults over, still mounted); exit 0 passes.
    public var verify: String?
    /// Seconds each step may take before it is killed (and the client fails).
    public var timeout: Double

    /// A client.
    public init(name: String, setup: String? = nil, run: String, verify: String? = nil, timeout: Double = 300) {
        self.name = name
        self.setup = setup
        self.run = run
        self.verify = verify
        self.timeout = timeout
    }

    /// The placeholders a command may use, and what each becomes.
    public static let placeholders = """
        {mountpoint} (the mount's root), {backing} (the backing directory), {dir} (the client's own directory \
        on the mount, its working directory), {backingdir} (the same directory in the backing directory), \
        {scratch} (a directory of the client's own outside the mount), {name}
        """

    static func checkName(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
    }

    /// Reads one entry of "clients".
    static func read(_ r: inout ObjectReader) throws -> ClientSpec {
        let name = try r.string("name")
        guard checkName(name) else { throw r.error("name", "expected letters, digits, '-' or '_', got \"\(name)\"") }
        func command(_ key: String, required: Bool) throws -> String? {
            guard required || r.value(key) != nil else { return nil }
            let c = try r.string(key)
            guard !c.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw r.error(key, "expected a shell command, got an empty string")
            }
            if let bad = unknownPlaceholder(c) {
                throw r.error(key, "unknown placeholder \(bad); the placeholders are \(placeholders)")
            }
            return c
        }
        let run = try command("run", required: true)!
        let c = ClientSpec(name: name, setup: try command("setup", required: false), run: run,
                           verify: try command("verify", required: false),
                           timeout: try r.seconds("timeout", default: 300, range: 0.1...86400))
        try r.finish()
        return c
    }

    /// The first "{word}" in `command` that is not a placeholder.
    static func unknownPlaceholder(_ command: String) -> String? {
        let known = ["mountpoint", "backing", "dir", "backingdir", "scratch", "name"]
        var rest = Substring(command)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { return nil }
            let word = after[..<close]
            if word.allSatisfy({ $0.isLetter }) && !word.isEmpty && !known.contains(String(word)) { return "{\(word)}" }
            rest = after[after.index(after: close)...]
        }
        return nil
    }

    /// `command` with its placeholders replaced by shell-quoted values.
    public static func expand(_ command: String, _ values: [String: String]) -> String {
        var out = command
        for (k, v) in values { out = out.replacingOccurrences(of: "{\(k)}", with: shellQuote(v)) }
        return out
    }

    static func shellQuote(_ s: String) -> String {
        s.allSatisfy { $0.isLetter || $0.isNumber || "/._-+=:,".contains($0) } ? s
            : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// The command-line form (`--client`): "[NAME=]COMMAND", NAME in
    /// lowercase letters, digits, '-' and '_' (an upper-case "VAR=value"
    /// prefix stays part of the command); NAME defaults to client1, client2, ...
    public static func parse(_ text: String, index: Int, timeout: Double) throws -> ClientSpec {
        var name = "client\(index + 1)", run = text
        if let eq = text.firstIndex(of: "="), checkName(String(text[..<eq])),
           !text[..<eq].contains(where: { $0.isUppercase }) {
            name = String(text[..<eq])
            run = String(text[text.index(after: eq)...])
        }
        guard !run.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw WorkloadError(file: "--client", field: "", problem: "expected '[NAME=]COMMAND', got \"\(text)\"")
        }
        if let bad = unknownPlaceholder(run) {
            throw WorkloadError(file: "--client", field: "",
                                problem: "unknown placeholder \(bad); the placeholders are \(placeholders)")
        }
        return ClientSpec(name: name, run: run, timeout: timeout)
    }
}
