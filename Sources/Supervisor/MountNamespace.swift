// Every mount fusebench makes lives in a private mount namespace of its
// own: when the harness and its servers are gone, for whatever reason
// (SIGKILL included), the namespace and its mounts go with them.
import Workload
import Contract
import CFuseShim
import Foundation
import Glibc

/// The harness's private mount namespace.
public enum MountNamespace {
    static let marker = Settings.privateNamespaceVariable

    /// True when this process already runs in the namespace made for it.
    public static var isPrivate: Bool {
        Settings.privateNamespace == namespaceId()
    }

    /// The inode of the current mount namespace ("mnt:[4026531841]").
    public static func namespaceId() -> String {
        var buf = [CChar](repeating: 0, count: 128)
        let n = readlink("/proc/self/ns/mnt", &buf, 127)
        return n > 0 ? String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
    }

    /// Makes sure the process runs in a private mount namespace: when it
    /// does not yet, unshares one and re-executes itself with the same
    /// arguments (unshare(CLONE_NEWNS) affects only the calling thread, so
    /// exec is the way to take the whole process along). Does not return in
    /// that case.
    public static func enter() throws {
        if isPrivate { return }
        if fbshim_enter_private_mount_namespace() != 0 {
            throw SupervisorError.environment("""
                cannot create a private mount namespace: \(String(cString: strerror(errno))). \
                fusebench needs CAP_SYS_ADMIN (run as root, outside a restrictive seccomp profile).
                """)
        }
        setenv(marker, namespaceId(), 1)
        let args = CommandLine.arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        execv("/proc/self/exe", &cargs)
        throw SupervisorError.environment("cannot re-execute /proc/self/exe: \(String(cString: strerror(errno)))")
    }

    /// Mounts fusectl at /sys/fs/fuse/connections in this namespace, if
    /// needed, so that a stuck connection can be aborted.
    public static func ensureFusectl() {
        if access("/sys/fs/fuse/connections/", F_OK) == 0,
           (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8))?.contains(" fusectl ") == true {
            return
        }
        _ = fbshim_mount_fusectl("/sys/fs/fuse/connections")
    }
}
