// Whether every write acknowledged to a client is still there after a run.

/// The outcome of verifying acknowledged writes.
public struct IntegrityReport: Codable, Equatable, Sendable {
    /// Files checked.
    public var filesChecked: UInt64
    /// Bytes compared.
    public var bytesChecked: UInt64
    /// Acknowledged bytes missing (an older version found).
    public var lostBytes: UInt64
    /// Bytes that match no version the client wrote.
    public var corruptedBytes: UInt64
    /// Blocks holding another file's data.
    public var foreignBlocks: UInt64
    /// Reads during the run that returned another file's data.
    public var wrongFileReads: UInt64
    /// Acknowledged files (created and closed) that are missing.
    public var missingFiles: UInt64

    /// A report.
    public init(filesChecked: UInt64 = 0, bytesChecked: UInt64 = 0, lostBytes: UInt64 = 0, corruptedBytes: UInt64 = 0,
                foreignBlocks: UInt64 = 0, wrongFileReads: UInt64 = 0, missingFiles: UInt64 = 0) {
        self.filesChecked = filesChecked
        self.bytesChecked = bytesChecked
        self.lostBytes = lostBytes
        self.corruptedBytes = corruptedBytes
        self.foreignBlocks = foreignBlocks
        self.wrongFileReads = wrongFileReads
        self.missingFiles = missingFiles
    }

    /// True when nothing was lost, corrupted or read from the wrong file.
    public var clean: Bool { lostBytes == 0 && corruptedBytes == 0 && foreignBlocks == 0 && wrongFileReads == 0 && missingFiles == 0 }
}
