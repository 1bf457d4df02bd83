// The machine a result was measured on.
import Foundation
import Glibc

/// Facts about the machine and software of a run.
public struct EnvironmentInfo: Codable, Equatable, Sendable {
    /// Host name.
    public var hostname: String
    /// Kernel release (uname -r).
    public var kernel: String
    /// libfuse version of the library linked in.
    public var libfuse: String
    /// CPU model name.
    public var cpuModel: String
    /// Online CPUs.
    public var cpuCount: Int
    /// Total memory in bytes.
    public var memoryBytes: UInt64

    /// Facts from their parts.
    public init(hostname: String, kernel: String, libfuse: String, cpuModel: String, cpuCount: Int,
                memoryBytes: UInt64) {
        self.hostname = hostname
        self.kernel = kernel
        self.libfuse = libfuse
        self.cpuModel = cpuModel
        self.cpuCount = cpuCount
        self.memoryBytes = memoryBytes
    }
}
