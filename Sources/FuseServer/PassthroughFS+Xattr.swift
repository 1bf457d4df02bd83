// Extended attributes, through /proc/self/fd/N: the *xattr calls do not
// accept O_PATH descriptors.
import Contract
import CFuseShim
import Glibc

extension PassthroughFS {
    func setxattr(_ r: consuming Request, _ ino: UInt64, _ name: UnsafePointer<CChar>, _ value: UnsafePointer<CChar>,
                  _ size: Int, _ flags: Int32) {
        guard options.xattr else { return r.error(ENOSYS) }
        do throws(SysError) {
            try nodes.withFd(ino) { (fd) throws(SysError) in
                try check(fbshim_setxattr(procPath(fd), name, value, size, flags))
            }
            r.error(0)
        } catch { r.fail(error) }
    }

    func getxattr(_ r: consuming Request, _ ino: UInt64, _ name: UnsafePointer<CChar>, _ size: Int) {
        guard options.xattr else { return r.error(ENOSYS) }
        xattrQuery(r, ino, size) { path, buf, n in fbshim_getxattr(path, name, buf, n) }
    }

    func listxattr(_ r: consuming Request, _ ino: UInt64, _ size: Int) {
        guard options.xattr else { return r.error(ENOSYS) }
        xattrQuery(r, ino, size) { path, buf, n in
            fbshim_listxattr(path, buf?.assumingMemoryBound(to: CChar.self), n)
        }
    }

    /// The get/list protocol: size 0 asks for the needed size.
    private func xattrQuery(_ r: consuming Request, _ ino: UInt64, _ size: Int,
                            _ call: (String, UnsafeMutableRawPointer?, Int) -> Int) {
        do throws(SysError) {
            let buf = size > 0 ? UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 1) : nil
            defer { buf?.deallocate() }
            let n = try nodes.withFd(ino) { (fd) throws(SysError) -> Int in
                let n = call(procPath(fd), buf, size)
                if n < 0 { throw SysError.current }
                return n
            }
            if size == 0 { r.xattr(n) } else { r.buf(buf, n) }
        } catch { r.fail(error) }
    }

    func removexattr(_ r: consuming Request, _ ino: UInt64, _ name: UnsafePointer<CChar>) {
        guard options.xattr else { return r.error(ENOSYS) }
        do throws(SysError) {
            try nodes.withFd(ino) { (fd) throws(SysError) in try check(fbshim_removexattr(procPath(fd), name)) }
            r.error(0)
        } catch { r.fail(error) }
    }
}
