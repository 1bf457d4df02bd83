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
        o.nodeIds = try r.choice("nodeIds", default: o.nodeIds, NodeIdScheme.allCases)
        o.fdCacheCapacity = try r.int("fdCacheCapacity", default: o.fdCacheCapacity, range: 64...1_000_000)
        try r.finish()
        return o
    }
}
