// Reading the load part of a workload file.
import LoadGen
import ResultModel

extension LoadSpec {
    /// Reads the load fields of the top-level workload object `r` (which
    /// the caller finishes, since it holds other fields too). With
    /// `mixOptional` (a workload with clients) no mix, or an empty one,
    /// means no synthetic load: no client threads.
    public static func read(_ r: inout ObjectReader, mixOptional: Bool = false) throws -> LoadSpec {
        var s = LoadSpec()
        s.threads = try r.int("threads", default: s.threads, range: 1...256)
        s.rate = try r.double("rate", default: nil, range: 1...1e9, what: "operations per second")
        s.warmup = try r.seconds("warmup", default: s.warmup, range: 0...3600)
        s.duration = try r.seconds("duration", default: s.duration, range: 0.05...86400)
        if r.value("operations") != nil {
            s.operations = try r.int("operations", default: 1, range: 1...1_000_000_000)
        }
        s.seed = UInt64(try r.int("seed", default: Int(s.seed), range: 0...Int(Int32.max)))
        if var f = try r.object("fileset") {
            s.fileset.dirs = try f.int("dirs", default: s.fileset.dirs, range: 1...100_000)
            s.fileset.filesPerDir = try f.int("filesPerDir", default: s.fileset.filesPerDir, range: 1...1_000_000)
            s.fileset.fileSize = try f.bytes("fileSize", default: s.fileset.fileSize, range: 0...(1 << 34))!
            try f.finish()
            if s.fileset.fileCount > 2_000_000 {
                throw f.error("filesPerDir", "the fileset would have \(s.fileset.fileCount) files; at most 2000000")
            }
        }
        if mixOptional, (try r.array("mix") ?? []).isEmpty {
            if r.value("threads") != nil { throw r.error("threads", "client threads need a \"mix\" of operations") }
            s.mix = []
            s.threads = 0
            return s
        }
        guard let mix = try r.array("mix") else {
            throw r.error("mix", "is required: expected an array of operations such as "
                          + "[{\"op\": \"stat\", \"weight\": 1}]")
        }
        guard !mix.isEmpty else { throw r.error("mix", "expected at least one operation") }
        s.mix = try mix.enumerated().map { i, v in
            var o = try ObjectReader(v, file: r.file, path: r.fieldPath("mix[\(i)]"))
            let op = try o.choice("op", default: nil as OpKind?, OpKind.allCases)
            let weight = try o.double("weight", default: 1, range: 0.000001...1e9, what: "a positive weight")!
            let block = try o.bytes("blockSize", default: nil, range: 1...(1 << 20))
            let size = try o.bytes("size", default: nil, range: 0...(1 << 34))
            try o.finish()
            return OpSpec(op: op, weight: weight, blockSize: block, size: size)
        }
        return s
    }
}
