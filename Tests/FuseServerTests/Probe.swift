// A probe runs the same system calls under a root directory and writes a
// transcript of what it saw (return values, errno names, normalised stat
// fields, contents). Two probes, one on the mount and one on a plain
// directory, must write the same transcript.
import Contract
import CFuseShim
import Foundation
import Glibc
import ResultModel

final class Probe {
    let root: String
    private(set) var lines: [String] = []

    init(root: String) { self.root = root }

    func path(_ p: String) -> String { "\(root)/\(p)" }

    func note(_ s: String) { lines.append(s) }

    /// Records "label -> 0" or "label -> ENAME" for a call returning -1/errno.
    @discardableResult
    func call(_ label: String, _ rc: Int32) -> Int32 {
        lines.append("\(label) -> \(rc < 0 ? errnoName(errno) : "ok")")
        return rc
    }

    /// Records a call that returns a size (ssize_t) or -1.
    @discardableResult
    func size(_ label: String, _ rc: Int) -> Int {
        lines.append("\(label) -> \(rc < 0 ? errnoName(errno) : String(rc))")
        return rc
    }

    /// lstat and record type, permission bits, size, links, owner.
    func stat(_ p: String, times: Bool = false) {
        var st = Glibc.stat()
        if lstat(path(p), &st) != 0 {
            lines.append("stat \(p) -> \(errnoName(errno))")
            return
        }
        var s = "stat \(p): type=\(String(st.st_mode & S_IFMT, radix: 8)) mode=\(String(st.st_mode & 0o7777, radix: 8)) "
            + "size=\(st.st_size) nlink=\(st.st_nlink) uid=\(st.st_uid) gid=\(st.st_gid)"
        if times { s += " mtime=\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) atime=\(st.st_atim.tv_sec).\(st.st_atim.tv_nsec)" }
        lines.append(s)
    }

    /// Records the file's content (as a checksum and length).
    func content(_ p: String) {
        guard let d = FileManager.default.contents(atPath: path(p)) else {
            lines.append("content \(p) -> \(errnoName(errno))")
            return
        }
        var h: UInt64 = 1469598103934665603
        for b in d { h = (h ^ UInt64(b)) &* 1099511628211 }
        lines.append("content \(p): \(d.count) bytes fnv=\(String(h, radix: 16))")
    }

    /// Records the sorted names in a directory (readdir through opendir).
    func list(_ p: String) {
        guard let d = opendir(path(p)) else {
            lines.append("list \(p) -> \(errnoName(errno))")
            return
        }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: &e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            names.append(name)
        }
        closedir(d)
        lines.append("list \(p): \(names.sorted().joined(separator: ","))")
    }
}
