// The files a workload reads and writes, built before the measured phase:
// data/dNNNN/fNNNNNN of fixed size in stamped sectors (SectorStamp), and one
// private directory per thread (priv/tNNN) where creates, unlinks, mkdirs
// and renames cannot collide.
import Foundation
import Glibc
import Synchronization

/// Paths of a fileset under a root.
public struct Fileset: Sendable {
    /// The spec.
    public let spec: FilesetSpec
    /// The root the paths are under.
    public let root: String

    /// The fileset of `spec` under `root`.
    public init(spec: FilesetSpec, root: String) {
        self.spec = spec
        self.root = root
    }

    /// Directory `d`.
    public func dir(_ d: Int) -> String { "\(root)/data/d\(Self.zeroPadded(d, 4))" }
    /// File `f` of directory `d`.
    public func file(_ d: Int, _ f: Int) -> String { "\(dir(d))/f\(Self.zeroPadded(f, 6))" }

    /// `v` in decimal, zero-padded to `width` digits (String(format:) is
    /// slow enough to take seconds over a million paths).
    static func zeroPadded(_ v: Int, _ width: Int) -> String {
        let digits = String(v)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
    /// All file paths, directory by directory.
    public func allFiles() -> [String] {
        var out: [String] = []
        out.reserveCapacity(spec.dirs * spec.filesPerDir)
        for d in 0..<spec.dirs {
            for f in 0..<spec.filesPerDir { out.append(file(d, f)) }
        }
        return out
    }
    /// All directory paths.
    public func allDirs() -> [String] { (0..<spec.dirs).map(dir) }
    /// Private directory of thread `t`.
    public func privateDir(_ t: Int) -> String { "\(root)/priv/t\(String(format: "%03d", t))" }

    /// The index of the thread (of `threads`) that owns file `index`: the
    /// only one that writes it, so that its writes can be verified.
    public static func owner(ofFile index: Int, threads: Int) -> Int { index % threads }

    /// Creates the fileset (and `threads` private directories) under root.
    public func build(threads: Int) throws {
        let fm = FileManager.default
        for d in allDirs() { try fm.createDirectory(atPath: d, withIntermediateDirectories: true) }
        for t in 0..<threads { try fm.createDirectory(atPath: privateDir(t), withIntermediateDirectories: true) }
        // Directories in parallel (creating files is CPU in the kernel):
        // a million empty files take a quarter of the time on two CPUs
        // with four builders than with one.
        let builders = max(1, min(spec.dirs, 4))
        let failure = Mutex<FilesetError?>(nil)
        DispatchQueue.concurrentPerform(iterations: builders) { b in
            do throws(FilesetError) {
                try buildDirs(stride(from: b, to: spec.dirs, by: builders))
            } catch {
                failure.withLock { if $0 == nil { $0 = error } }
            }
        }
        if let e = failure.withLock({ $0 }) { throw e }
    }

    private func buildDirs(_ dirs: StrideTo<Int>) throws(FilesetError) {
        let chunk = min(max(spec.fileSize, 1), 1 << 20)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: chunk + SectorStamp.size, alignment: 4096)
        defer { buf.deallocate() }
        for d in dirs {
            for f in 0..<spec.filesPerDir {
                let index = d * spec.filesPerDir + f
                let path = file(d, f)
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                if fd < 0 { throw FilesetError.create(path, errno) }
                var off = 0
                while off < spec.fileSize {
                    let n = min(chunk, spec.fileSize - off)
                    // Stamp 0: the content before any write of the run.
                    SectorStamp.fill(buf, count: (n + SectorStamp.size - 1) / SectorStamp.size * SectorStamp.size,
                                     file: UInt32(index), offset: off, stamp: 0)
                    let w = pwrite(fd, buf, n, off_t(off))
                    if w != n {
                        close(fd)
                        throw FilesetError.create(path, w < 0 ? errno : EIO)
                    }
                    off += n
                }
                close(fd)
            }
        }
    }
}

/// Building the fileset failed.
public enum FilesetError: Error, CustomStringConvertible, Sendable {
    /// A file could not be created or written.
    case create(String, Int32)

    /// What failed.
    public var description: String {
        switch self {
        case .create(let p, let e): return "cannot create fileset file \(p): \(String(cString: strerror(e)))"
        }
    }
}
