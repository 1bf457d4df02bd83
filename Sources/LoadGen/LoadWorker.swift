// One load thread: picks operations from the mix, issues the system calls,
// times them, and keeps its own histograms, counters and timeline (merged
// after the run, so the hot loop shares nothing but two relaxed counters).
import CFuseShim
import Glibc
import Histogram

/// Per-thread measurements of one operation kind: successful operations
/// count in the histogram, bytes and count; failed ones only by errno.
struct OpTally {
    var histogram: Histogram<UInt64>?
    var count: UInt64 = 0
    var bytes: UInt64 = 0
    var errors: [Int32: UInt64] = [:]

    static let highestTrackable: UInt64 = 600_000_000_000

    mutating func record(latency: UInt64, bytes b: Int, error: Int32) {
        if error != 0 {
            errors[error, default: 0] += 1
            return
        }
        if histogram == nil {
            histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: Self.highestTrackable,
                                          numberOfSignificantValueDigits: .three)
        }
        _ = histogram!.record(min(max(latency, 1), Self.highestTrackable))
        count += 1
        bytes += UInt64(b)
    }
}

/// Per-thread measurements around one fault.
struct FaultTally {
    /// Longest operation in flight at the fault: its kind, start and end
    /// (nil: none in flight).
    var longest: (kind: OpKind, start: UInt64, end: UInt64)?
    /// Its duration (the client stall).
    var stallNs: UInt64 { longest.map { $0.end - $0.start } ?? 0 }
    /// Longest time from the fault to the end of an operation in flight at it.
    var waitNs: UInt64 = 0
    /// Operations in flight at the fault.
    var spanning: UInt64 = 0
    /// Completion times of successful operations that were in flight at
    /// the fault (at most one per thread and fault).
    var resumed: [UInt64] = []
    /// Slow operations (1 ms or more) that started after the fault, with
    /// their start, end and kind: those started before the server answered
    /// again were stalled by the outage too. At most 64 per thread.
    var slowAfter: [(start: UInt64, end: UInt64, kind: OpKind)] = []
    /// Latencies of operations completing in the window after the fault.
    var window: Histogram<UInt64>?
    /// Failed operations in the window, by operation and errno.
    var errors: [OpKind: [Int32: UInt64]] = [:]
    /// Window after a fault in which latencies and errors are attributed to it.
    static let windowNs = FaultWindow.ns
}

/// The window around a fault in which what happens is attributed to it:
/// client latencies and errors after it, and the server's requests before
/// it and after the restart.
public enum FaultWindow {
    /// One second, in nanoseconds.
    public static let ns: UInt64 = 1_000_000_000
    /// The same in seconds.
    public static let seconds = Double(ns) / 1e9
}

/// Timing of the phases, in CLOCK_MONOTONIC nanoseconds.
public struct Phases: Sendable {
    /// Start of the warm-up.
    public let start: UInt64
    /// Start of the measured phase.
    public let measureStart: UInt64
    /// End of the measured phase.
    public let end: UInt64
    /// Timeline bucket width.
    public let bucketNs: UInt64

    /// A timeline bucket of 1 ms, for a run with faults: the throughput
    /// recovery after a fault is judged on the timeline, in its buckets
    /// (`Recovery`), and a handover's dip lasts a few ms.
    public static let fineBucketNs: UInt64 = 1_000_000
    /// A timeline bucket of 10 ms, for a run without faults.
    public static let bucketNs: UInt64 = 10_000_000
}

/// One client thread.
/// Unchecked Sendable: a worker's mutable state belongs to its own thread
/// while it runs, and is read by the generator only after that thread
/// left the dispatch group; what others read meanwhile is in `progress`
/// (atomics).
final class LoadWorker: @unchecked Sendable {
    let index: Int
    let spec: LoadSpec
    let mix: OpMix
    let files: [String]
    let dirs: [String]
    let privateDir: String
    let root: String
    let progress: WorkerProgress
    let control: LoadControl
    var rng: SplitMix
    var tallies = [OpTally](repeating: OpTally(), count: OpKind.allCases.count)
    /// Operations issued in any phase, failed ones included, by kind, and
    /// the bytes they moved: what the server's requests are accounted against.
    var issued = [UInt64](repeating: 0, count: OpKind.allCases.count)
    var issuedBytes: UInt64 = 0
    /// Operations whose start fell in the measured phase.
    var measuredOps = 0
    /// End (monotonic ns) of this thread's last measured operation.
    var lastEnd: UInt64 = 0
    var completed: [UInt64]
    var failed: [UInt64]
    var faults: [Int: FaultTally] = [:]
    var created: [String] = []
    var ledger = WriteLedger()
    var stampSeq: UInt64 = 0
    /// Indices of the fileset files this thread owns (writes).
    let owned: [Int]
    var madeDirs: [String] = []
    /// The `held` operation's descriptor and file, open across operations.
    var heldFile: (fd: Int32, file: Int)?
    var sequence = 0
    /// Where reads land.
    let buffer: UnsafeMutableRawPointer
    /// What writes send: sector bodies filled once, headers per write.
    let writeBuffer: UnsafeMutableRawPointer
    let bufferSize = 1 << 20

    init(index: Int, spec: LoadSpec, fileset: Fileset, files: [String], control: LoadControl, buckets: Int) {
        self.index = index
        self.spec = spec
        mix = OpMix(spec.mix)
        self.files = files
        dirs = fileset.allDirs()
        privateDir = fileset.privateDir(index)
        root = fileset.root
        self.control = control
        progress = control.workers[index]
        rng = SplitMix(seed: spec.seed, stream: UInt64(index))
        owned = (0..<files.count).filter { Fileset.owner(ofFile: $0, threads: spec.threads) == index }
        completed = [UInt64](repeating: 0, count: buckets)
        failed = [UInt64](repeating: 0, count: buckets)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize + SectorStamp.size, alignment: 4096)
        writeBuffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize + SectorStamp.size, alignment: 4096)
        SectorStamp.fill(writeBuffer, count: bufferSize + SectorStamp.size, file: 0, offset: 0, stamp: 0)
    }

    deinit {
        buffer.deallocate()
        writeBuffer.deallocate()
    }

    /// Runs until the end of the phases or a stop.
    func run(_ phases: Phases) {
        sleepUntil(phases.start)
        let paced = spec.rate.map { UInt64(Double(spec.threads) / $0 * 1e9) }
        var next = phases.start + (paced ?? 0) * UInt64(index) / UInt64(spec.threads)
        let null = control.null
        while true {
            if control.stopFlag.load(ordering: .relaxed) || fbshim_stop_requested() != 0 { break }
            var t0 = fbshim_monotonic_ns()
            if let paced {
                if t0 < next { sleepUntil(next) }
                t0 = next
                next += paced
            }
            if t0 >= phases.end { break }
            if let n = spec.operations, measuredOps >= n { break }
            if t0 >= phases.measureStart { measuredOps += 1 }
            let entry = mix.specs[mix.pick(Double(rng.next() >> 11) * 0x1p-53)]
            progress.inFlightSince.store(t0, ordering: .relaxed)
            let (kind, bytes, err) = null ? (entry.op, 0, Int32(0)) : execute(entry)
            let t1 = fbshim_monotonic_ns()
            progress.inFlightSince.store(0, ordering: .relaxed)
            progress.ops.add(1, ordering: .relaxed)
            if err != 0 { progress.errors.add(1, ordering: .relaxed) }
            issued[kind.index] += 1
            issuedBytes += UInt64(bytes)
            let fault = control.faultNs.load(ordering: .acquiring)
            if fault != 0 && t1 >= fault { attribute(kind, t0, t1, err, fault: fault) }
            if t1 >= phases.measureStart && t1 < phases.end && t0 >= phases.start {
                tallies[kind.index].record(latency: t1 - t0, bytes: bytes, error: err)
                lastEnd = t1
                let b = Int((t1 - phases.measureStart) / phases.bucketNs)
                if b < completed.count {
                    completed[b] += 1
                    if err != 0 { failed[b] += 1 }
                }
            }
        }
    }

    private func attribute(_ kind: OpKind, _ t0: UInt64, _ t1: UInt64, _ err: Int32, fault: UInt64) {
        let index = control.faultIndex.load(ordering: .relaxed)
        // In place: a copy of the tally (`var f = faults[index]`, then
        // storing it back) made every record into its latency histogram copy
        // the histogram's whole counts array (hundreds of KiB, copy on
        // write), for every operation in the second after each fault.
        Self.record(into: &faults[index, default: FaultTally()], kind, t0, t1, err, fault: fault)
    }

    private static func record(into f: inout FaultTally, _ kind: OpKind, _ t0: UInt64, _ t1: UInt64, _ err: Int32,
                               fault: UInt64) {
        if t0 <= fault {
            f.spanning += 1
            if f.longest == nil || t1 - t0 > f.stallNs { f.longest = (kind, t0, t1) }
            f.waitNs = max(f.waitNs, t1 - fault)
            if err == 0 { f.resumed.append(t1) }
        } else if t1 - t0 >= 1_000_000 && f.slowAfter.count < 64 {
            f.slowAfter.append((t0, t1, kind))
        }
        if t1 < fault + FaultTally.windowNs {
            if f.window == nil {
                f.window = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: OpTally.highestTrackable,
                                             numberOfSignificantValueDigits: .three)
            }
            _ = f.window!.record(min(max(t1 - t0, 1), OpTally.highestTrackable))
            if err != 0 { f.errors[kind, default: [:]][err, default: 0] += 1 }
        }
    }

    private func sleepUntil(_ ns: UInt64) {
        var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
    }

    // MARK: - Operations

    private func randomFile() -> (Int, String) {
        let i = rng.below(files.count)
        return (i, files[i])
    }

    private func nextName(_ prefix: String) -> String {
        sequence += 1
        return "\(privateDir)/\(prefix)\(sequence)"
    }

    /// Runs one operation; returns what actually ran, bytes moved and errno.
    func execute(_ s: OpSpec) -> (OpKind, Int, Int32) {
        switch s.op {
        case .stat:
            var st = stat()
            return (.stat, 0, fstatat(AT_FDCWD, randomFile().1, &st, 0) == 0 ? 0 : errno)
        case .open:
            let fd = Glibc.open(randomFile().1, O_RDONLY | O_CLOEXEC)
            if fd < 0 { return (.open, 0, errno) }
            return (.open, 0, close(fd) == 0 ? 0 : errno)
        case .read:
            let (file, path) = randomFile()
            return withOpen(path, O_RDONLY, .read) { fd in
                var total = 0
                let bs = min(s.blockSize, bufferSize)
                while true {
                    let n = Glibc.read(fd, buffer, bs)
                    if n < 0 { return (total, errno) }
                    if n == 0 { return (total, 0) }
                    checkIdentity(file: file, offset: total, count: n)
                    total += n
                }
            }
        case .randread:
            let (file, path) = randomFile()
            return withOpen(path, O_RDONLY, .randread) { fd in
                let bs = min(s.blockSize, bufferSize)
                let blocks = max(1, spec.fileset.fileSize / bs)
                let off = rng.below(blocks) * bs
                let n = pread(fd, buffer, bs, off_t(off))
                if n > 0 { checkIdentity(file: file, offset: off, count: n) }
                return n < 0 ? (0, errno) : (n, 0)
            }
        case .write:
            let (file, path) = ownedFile()
            return withOpen(path, O_WRONLY, .write) { fd in
                let bs = min(s.blockSize, bufferSize)
                let span = max(0, spec.fileset.fileSize - s.size) / bs
                let start = span > 0 ? rng.below(span + 1) * bs : 0
                return writeStamped(fd, file: file, at: start, size: s.size, blockSize: bs)
            }
        case .fsync:
            let (file, path) = ownedFile()
            return withOpen(path, O_WRONLY, .fsync) { fd in
                let bs = min(s.blockSize, bufferSize)
                let blocks = max(1, spec.fileset.fileSize / bs)
                let (n, e) = writeStamped(fd, file: file, at: rng.below(blocks) * bs, size: bs, blockSize: bs)
                if e != 0 { return (n, e) }
                return (n, Glibc.fsync(fd) == 0 ? 0 : errno)
            }
        case .create:
            return create(s)
        case .unlink:
            if created.isEmpty { return create(s) }
            let path = created.swapRemove(at: rng.below(created.count))
            let rc = Glibc.unlink(path) == 0 ? 0 : errno
            // Gone either way: not found means an earlier attempt removed it.
            ledger.created[relative(path)] = nil
            return (.unlink, 0, rc)
        case .mkdir:
            return makeDir()
        case .rmdir:
            if madeDirs.isEmpty { return makeDir() }
            let path = madeDirs.swapRemove(at: rng.below(madeDirs.count))
            return (.rmdir, 0, Glibc.rmdir(path) == 0 ? 0 : errno)
        case .rename:
            if created.isEmpty { return create(s) }
            let i = rng.below(created.count)
            let to = nextName("r")
            if Glibc.rename(created[i], to) != 0 {
                // Its outcome is unknown: stop vouching for either name.
                ledger.created[relative(created[i])] = nil
                return (.rename, 0, errno)
            }
            ledger.created[relative(to)] = ledger.created.removeValue(forKey: relative(created[i]))
            created[i] = to
            return (.rename, 0, 0)
        case .readdir:
            guard let d = opendir(dirs[rng.below(dirs.count)]) else { return (.readdir, 0, errno) }
            errno = 0
            while Glibc.readdir(d) != nil {}
            let e = errno
            closedir(d)
            return (.readdir, 0, e)
        case .chmod:
            let mode: mode_t = rng.below(2) == 0 ? 0o644 : 0o640
            return (.chmod, 0, Glibc.chmod(randomFile().1, mode) == 0 ? 0 : errno)
        case .statfs:
            var sv = statvfs()
            return (.statfs, 0, statvfs(root, &sv) == 0 ? 0 : errno)
        case .held:
            return held(s)
        }
    }

    /// One `held` operation. The first call made on the descriptor is an
    /// fsync, so the first request a new server sees for it after a fault
    /// may be FSYNC, which carries no open flags.
    private func held(_ s: OpSpec) -> (OpKind, Int, Int32) {
        if heldFile == nil {
            let (file, path) = ownedFile()
            let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
            if fd < 0 { return (.held, 0, errno) }
            heldFile = (fd, file)
        }
        let (fd, file) = heldFile!
        if Glibc.fsync(fd) != 0 { return (.held, 0, errno) }
        let bs = min(s.blockSize, bufferSize)
        let off = rng.below(max(1, spec.fileset.fileSize / bs)) * bs
        let (n, e) = writeStamped(fd, file: file, at: off, size: bs, blockSize: bs)
        if e != 0 { return (.held, n, e) }
        let r = pread(fd, buffer, bs, off_t(off))
        if r < 0 { return (.held, n, errno) }
        if r != bs || memcmp(buffer, writeBuffer, bs) != 0 { ledger.wrongFileReads += 1 }
        return (.held, n, 0)
    }

    /// Closes the `held` operation's descriptor (end of the run).
    func closeHeld() {
        if let h = heldFile { close(h.fd) }
        heldFile = nil
    }

    private func withOpen(_ path: String, _ flags: Int32, _ kind: OpKind,
                          _ body: (Int32) -> (Int, Int32)) -> (OpKind, Int, Int32) {
        let fd = Glibc.open(path, flags | O_CLOEXEC)
        if fd < 0 { return (kind, 0, errno) }
        let (n, e) = body(fd)
        let c = close(fd) == 0 ? 0 : errno
        return (kind, n, e != 0 ? e : c)
    }

    private func writeAll(_ fd: Int32, at offset: Int, size: Int, blockSize: Int, file: UInt32,
                          stamp: UInt64) -> (Int, Int32) {
        var done = 0
        while done < size {
            let n0 = min(blockSize, size - done)
            SectorStamp.fill(writeBuffer, count: (n0 + SectorStamp.size - 1) / SectorStamp.size * SectorStamp.size,
                             file: file, offset: offset + done, stamp: stamp, bodyReady: true)
            let n = pwrite(fd, writeBuffer, n0, off_t(offset + done))
            if n < 0 { return (done, errno) }
            done += n
        }
        return (done, 0)
    }

    private func create(_ s: OpSpec) -> (OpKind, Int, Int32) {
        let path = nextName("c")
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 { return (.create, 0, errno) }
        created.append(path)
        let size = s.op == .create ? s.size : 0
        let file = Self.createdFileId(thread: index)
        let stamp = nextStamp()
        let (n, e) = writeAll(fd, at: 0, size: size, blockSize: min(s.blockSize, bufferSize), file: file, stamp: stamp)
        let c = close(fd) == 0 ? 0 : errno
        if e == 0 && c == 0 { ledger.created[relative(path)] = (file: file, size: size, stamp: stamp) }
        return (.create, n, e != 0 ? e : c)
    }

    /// The file id written into the sectors of files thread `thread` creates.
    static func createdFileId(thread: Int) -> UInt32 { 0x8000_0000 | UInt32(thread) }

    private func nextStamp() -> UInt64 {
        stampSeq += 1
        return UInt64(index + 1) << 40 | stampSeq
    }

    private func relative(_ path: String) -> String { String(path.dropFirst(root.count + 1)) }

    /// A fileset file this thread owns (any file when it owns none).
    private func ownedFile() -> (Int, String) {
        if owned.isEmpty { return randomFile() }
        let i = owned[rng.below(owned.count)]
        return (i, files[i])
    }

    /// Writes stamped sectors and records the outcome in the ledger (only
    /// for files this thread owns and sector-aligned writes).
    private func writeStamped(_ fd: Int32, file: Int, at offset: Int, size: Int, blockSize: Int) -> (Int, Int32) {
        let stamp = nextStamp()
        let (n, e) = writeAll(fd, at: offset, size: size, blockSize: blockSize, file: UInt32(file), stamp: stamp)
        if !owned.isEmpty && offset % SectorStamp.size == 0 && blockSize % SectorStamp.size == 0 {
            ledger.wrote(file: UInt32(file), fileSize: spec.fileset.fileSize, offset: offset, count: size, stamp: stamp,
                         acknowledged: e == 0)
        }
        return (n, e)
    }

    /// Counts a read whose sectors name another file.
    private func checkIdentity(file: Int, offset: Int, count: Int) {
        var s = (SectorStamp.size - offset % SectorStamp.size) % SectorStamp.size
        while s + SectorStamp.size <= count {
            let r = SectorStamp.read(buffer + s, offset: offset + s)
            if !r.valid || r.file != UInt32(file) {
                ledger.wrongFileReads += 1
                return
            }
            s += SectorStamp.size
        }
    }

    private func makeDir() -> (OpKind, Int, Int32) {
        let path = nextName("m")
        if Glibc.mkdir(path, 0o755) != 0 { return (.mkdir, 0, errno) }
        madeDirs.append(path)
        return (.mkdir, 0, 0)
    }
}

extension OpKind {
    /// Position in allCases.
    var index: Int { OpKind.allCases.firstIndex(of: self)! }
}

extension Array {
    /// Removes element `i` by swapping in the last one (O(1)).
    mutating func swapRemove(at i: Int) -> Element {
        swapAt(i, count - 1)
        return removeLast()
    }
}
