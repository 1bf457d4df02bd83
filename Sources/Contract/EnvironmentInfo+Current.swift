// The facts of the machine a result is measured on, libfuse's version among
// them (which needs the C library, so it is read here, not in ResultModel).
import CFuseShim
import Foundation
import Glibc
import ResultModel

extension EnvironmentInfo {
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
