// Checks that the machine can run the reference server at all, so that the
// user gets a clear message instead of a hang or an obscure errno.
import Workload
import Contract
import Glibc

/// Preconditions of `fusebench run`.
public enum HostCheck {
    /// The FUSE device, overridable for tests of the error path.
    public static var devicePath: String { Settings.fuseDevice }

    /// Throws SupervisorError.environment unless we are root with a usable /dev/fuse.
    public static func requireFuse() throws {
        guard geteuid() == 0 else {
            throw SupervisorError.environment("""
                fusebench run needs root (it mounts in a private mount namespace and opens \
                /dev/fuse); you are uid \(geteuid()). Run it as root, e.g. with sudo.
                """)
        }
        let dev = devicePath
        var st = stat()
        guard stat(dev, &st) == 0 else {
            throw SupervisorError.environment("""
                no FUSE device at \(dev): \(String(cString: strerror(errno))). Load the fuse module \
                (modprobe fuse) or, in a container, pass /dev/fuse in (--device /dev/fuse).
                """)
        }
        guard st.st_mode & S_IFMT == S_IFCHR else {
            throw SupervisorError.environment("""
                \(dev) is not a character device, so it is not the FUSE device. Load the fuse module \
                (modprobe fuse) or pass the real /dev/fuse into the container.
                """)
        }
        let fd = open(dev, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw SupervisorError.environment("cannot open \(dev): \(String(cString: strerror(errno))).")
        }
        close(fd)
    }
}
