// The client operations a workload can mix, and what each one does.

/// A client operation: a short sequence of real system calls on the target.
public enum OpKind: String, CaseIterable, Codable, Sendable {
    /// stat(2) of a fileset file.
    case stat
    /// open(2) and close(2) of a fileset file.
    case open
    /// open, read the whole file in `blockSize` reads, close.
    case read
    /// open, one pread of `blockSize` at a random aligned offset, close.
    case randread
    /// open, write `size` bytes in `blockSize` writes at a random aligned offset, close.
    case write
    /// open, pwrite `blockSize`, fsync, close.
    case fsync
    /// create a new file in the thread's private directory, write `size` bytes, close.
    case create
    /// unlink a file this thread created (creates one first when it has none).
    case unlink
    /// mkdir in the thread's private directory.
    case mkdir
    /// rmdir of a directory this thread made (makes one first when it has none).
    case rmdir
    /// rename a file this thread created to a new name.
    case rename
    /// opendir, read every entry, closedir of a fileset directory.
    case readdir
    /// chmod(2) of a fileset file (a SETATTR).
    case chmod
    /// statfs(2) of the target root.
    case statfs
    /// On a descriptor the thread keeps open read-write across operations
    /// (and so across faults), as sqlite or a log writer does: fsync, pwrite
    /// of `blockSize` at a random aligned offset, pread of it back (checked).
    /// The descriptor is opened on first use and closed at the end of the run.
    case held

    /// Default block size for the operation.
    var defaultBlockSize: Int {
        switch self {
        case .read: return 128 * 1024
        default: return 4096
        }
    }

    /// Default bytes written per operation.
    func defaultSize(blockSize: Int) -> Int {
        switch self {
        case .create: return 0
        default: return blockSize
        }
    }
}
