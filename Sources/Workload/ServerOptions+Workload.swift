// The reference server's options as a workload's "server" object: the one
// place their keys, ranges and defaults are read (workload files, bench
// --variant overrides). The defaults themselves are ServerOptions' own.
import Contract
import LoadGen
import ResultModel

extension ServerOptions {
    /// Reads the "server" object of a workload (defaults when absent).
    static func read(_ reader: ObjectReader?) throws -> ServerOptions {
        guard var r = reader else { return ServerOptions() }
        return try ServerOptions().reading(&r)
    }

    /// These options with the keys `overrides` gives changed, each checked as
    /// in a workload file (unknown keys and bad values are refused); `file`
    /// names the source in errors ("--variant big-writes").
    public func overriding(_ overrides: [String: JSONValue], file: String) throws -> ServerOptions {
        var r = try ObjectReader(.object(overrides), file: file, path: "server")
        return try reading(&r)
    }

    /// These options with every key `r` has read over them.
    private func reading(_ r: inout ObjectReader) throws -> ServerOptions {
        var o = self
        o.threads = try r.int("threads", default: o.threads, range: 1...256)
        o.cloneFd = try r.bool("cloneFd", default: o.cloneFd)
        o.entryTimeout = try r.seconds("entryTimeout", default: o.entryTimeout, range: 0...86400)
        o.attrTimeout = try r.seconds("attrTimeout", default: o.attrTimeout, range: 0...86400)
        o.writebackCache = try r.bool("writebackCache", default: o.writebackCache)
        o.maxWrite = try r.bytes("maxWrite", default: o.maxWrite, range: 4096...(1 << 20))!
        o.splice = try r.bool("splice", default: o.splice)
        o.readdirplus = try r.bool("readdirplus", default: o.readdirplus)
        o.keepCache = try r.bool("keepCache", default: o.keepCache)
        o.xattr = try r.bool("xattr", default: o.xattr)
        o.killPrivV2 = try r.bool("killPrivV2", default: o.killPrivV2)
        o.skipFlush = try r.bool("skipFlush", default: o.skipFlush)
        o.passthrough = try r.bool("passthrough", default: o.passthrough)
        o.idleBackingFiles = try r.bool("idleBackingFiles", default: o.idleBackingFiles)
        o.parallelDirops = try r.bool("parallelDirops", default: o.parallelDirops)
        o.autoInvalData = try r.bool("autoInvalData", default: o.autoInvalData)
        o.ioUring = try r.bool("ioUring", default: o.ioUring)
        o.ioUringQueueDepth = try r.int("ioUringQueueDepth", default: o.ioUringQueueDepth, range: 1...1024)
        o.nodeIds = try r.choice("nodeIds", default: o.nodeIds, NodeIdScheme.allCases)
        o.fdCacheCapacity = try r.int("fdCacheCapacity", default: o.fdCacheCapacity, range: 64...1_000_000)
        o.allowOther = try r.bool("allowOther", default: o.allowOther)
        o.defaultPermissions = try r.bool("defaultPermissions", default: o.defaultPermissions)
        o.callerCredentials = try r.bool("callerCredentials", default: o.callerCredentials)
        if let list = try r.array("mountOptions") {
            o.mountOptions = try list.enumerated().map { i, v in
                guard case .string(let s) = v, let checked = Self.checkMountOption(s) else {
                    throw r.error("mountOptions[\(i)]", "expected a mount option such as \"max_read=131072\" "
                                  + "(letters, digits and '_', then '=' and a value without commas), got \(v.compact)")
                }
                return checked
            }
        }
        try r.finish()
        return o
    }

    /// `option` when it is one mount option ("name" or "name=value", no
    /// commas), else nil. allow_other and default_permissions have keys
    /// of their own; fd, rootmode, user_id and group_id are the harness's.
    public static func checkMountOption(_ option: String) -> String? {
        let name = option.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !option.contains(","),
              !["fd", "rootmode", "user_id", "group_id"].contains(String(name)) else { return nil }
        return option
    }
}
