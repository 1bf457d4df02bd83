// Kernel features a server option needs, checked before anything mounts.
import Glibc

/// What the running kernel lets a FUSE server use.
public enum KernelFeatures {
    /// The fuse module parameter that lets connections use io_uring.
    public static let enableUringPath = "/sys/module/fuse/parameters/enable_uring"

    /// nil when FUSE over io_uring can be used; else what is missing and
    /// how to get it.
    public static func ioUringProblem() -> String? {
        let fd = open(enableUringPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return "the server option ioUring needs FUSE over io_uring (Linux 6.14+ with CONFIG_FUSE_IO_URING), "
                + "and this kernel has no \(enableUringPath)"
        }
        defer { close(fd) }
        var b: UInt8 = 0
        guard read(fd, &b, 1) == 1, b == UInt8(ascii: "Y") else {
            return "the server option ioUring needs the fuse module parameter enable_uring, which is N: as root, "
                + "echo Y > \(enableUringPath) (it applies to connections made after), or drop ioUring"
        }
        return nil
    }
}
