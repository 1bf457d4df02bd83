// The machine a result was measured on.
import CFuseShim
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

    /// Reads the current machine.
    public static func current() -> EnvironmentInfo {
        var u = utsname()
        uname(&u)
        func field<T>(_ v: inout T) -> String {
            withUnsafeBytes(of: &v) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let memKiB = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { UInt64($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        return EnvironmentInfo(
            hostname: field(&u.nodename), kernel: field(&u.release),
            libfuse: String(cString: fbshim_libfuse_version()), cpuModel: model,
            cpuCount: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), memoryBytes: memKiB * 1024)
    }
}
