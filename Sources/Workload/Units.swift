// Sizes ("4KiB") and durations ("500ms") as workload files write them.
import LoadGen
import Foundation

/// Parses sizes and durations.
public enum Units {
    /// Bytes from a number or a string such as "512", "4k", "4KiB", "1MiB",
    /// "2G". K, M and G are powers of 1024 with or without "iB"/"B".
    public static func bytes(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let digits = t.prefix { $0.isNumber || $0 == "." }
        guard let n = Double(digits), n >= 0 else { return nil }
        let unit = t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let mult: Double
        switch unit {
        case "", "b": mult = 1
        case "k", "kb", "kib": mult = 1024
        case "m", "mb", "mib": mult = 1024 * 1024
        case "g", "gb", "gib": mult = 1024 * 1024 * 1024
        default: return nil
        }
        let v = n * mult
        guard v == v.rounded(), v < Double(Int.max) else { return nil }
        return Int(v)
    }

    /// Seconds from a string such as "250us", "500ms", "2s", "1.5m".
    public static func seconds(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let digits = t.prefix { $0.isNumber || $0 == "." }
        guard let n = Double(digits), n >= 0 else { return nil }
        let unit = t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        switch unit {
        case "ns": return n / 1e9
        case "us": return n / 1e6
        case "ms": return n / 1e3
        case "", "s": return n
        case "m", "min": return n * 60
        default: return nil
        }
    }
}

