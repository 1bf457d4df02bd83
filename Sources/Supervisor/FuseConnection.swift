// A FUSE connection as the kernel shows it: its number (the minor of the
// mount's device, from mountinfo, so that a hung mount is never touched),
// its abort switch in fusectl, and an unmount that cannot hang.
import CFuseShim
import Foundation
import Glibc

/// Connections of FUSE mounts, by mountpoint.
public enum FuseConnection {
    /// The connection number of the FUSE mount at `mountpoint`, if any.
    public static func id(of mountpoint: String) -> Int? {
        let info = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        for line in info.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count > 4, f[4] == mountpoint else { continue }
            let dev = f[2].split(separator: ":")
            if dev.count == 2, let minor = Int(dev[1]) { return minor }
        }
        return nil
    }

    /// Aborts the connection of the FUSE mount at `mountpoint` (fusectl):
    /// every waiting caller gets an error at once.
    @discardableResult
    public static func abort(of mountpoint: String) -> Bool {
        guard let id = id(of: mountpoint) else { return false }
        debugTrace("aborting FUSE connection \(id) of \(mountpoint)")
        MountNamespace.ensureFusectl()
        let fd = open("/sys/fs/fuse/connections/\(id)/abort", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "1", 1) == 1
    }

    /// Unmounts the FUSE mount at `mountpoint`. A mount still busy (a file
    /// closed a moment ago may still be on its way out) gets up to a second
    /// more; when it stays busy, or the server does not answer, its
    /// connection is aborted and the mount detached.
    static func unmountOrDetach(_ mountpoint: String) {
        var rc = fbshim_umount2(mountpoint, 0)
        var tries = 0
        while rc != 0 && errno == EBUSY && tries < 50 {
            usleep(20_000)
            tries += 1
            rc = fbshim_umount2(mountpoint, 0)
        }
        if rc != 0 {
            debugTrace("unmount of \(mountpoint) failed (\(String(cString: strerror(errno)))): aborting the connection")
            abort(of: mountpoint)
            _ = fbshim_umount2(mountpoint, Int32(MNT_DETACH))
        }
    }
}
