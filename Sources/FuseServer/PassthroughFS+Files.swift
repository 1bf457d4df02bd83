// Open files: open, create, read, write, flush, release, fsync, fallocate,
// lseek and copy_file_range. `fh` is the backing descriptor.
import CFuseShim
import Glibc

extension PassthroughFS {
    /// Open flags as the backing file should see them.
    func backingFlags(_ flags: Int32) -> Int32 {
        var f = flags & ~(O_CREAT | O_EXCL | O_NOCTTY)
        if options.writebackCache {
            // The kernel may read a page to complete a partial write, and it
            // handles O_APPEND itself with write-back caching.
            if f & O_ACCMODE == O_WRONLY { f = (f & ~O_ACCMODE) | O_RDWR }
            f &= ~O_APPEND
        }
        return f
    }

    func setOpenFlags(_ fi: UnsafeMutablePointer<fuse_file_info>) {
        fi.pointee.keep_cache = options.keepCache ? 1 : 0
    }

    func open(_ r: Request, _ ino: UInt64, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do throws(SysError) {
            let fd = try openNode(ino, flags: backingFlags(fi.pointee.flags))
            fi.pointee.fh = UInt64(fd)
            setOpenFlags(fi)
            r.open(fi)
        } catch { r.fail(error) }
    }

    func create(_ r: Request, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ mode: mode_t,
                _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do throws(SysError) {
            var fileFd: Int32 = -1
            var e = try nodes.withFd(parent) { (p) throws(SysError) in
                let flags = backingFlags(fi.pointee.flags) | O_CREAT | (fi.pointee.flags & O_EXCL)
                fileFd = openat(p, name, flags | O_CLOEXEC, mode)
                if fileFd < 0 { throw SysError.current }
                do throws(SysError) {
                    return try makeEntry(p, name)
                } catch {
                    close(fileFd)
                    throw error
                }
            }
            fi.pointee.fh = UInt64(fileFd)
            setOpenFlags(fi)
            r.create(&e, fi)
        } catch { r.fail(error) }
    }

    func read(_ r: Request, _ size: Int, _ off: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        r.data(fd: Int32(fi.pointee.fh), size: size, offset: off, splice: options.splice)
    }

    func writeBuf(_ r: Request, _ bufv: UnsafeMutablePointer<fuse_bufvec>, _ off: off_t,
                  _ fi: UnsafeMutablePointer<fuse_file_info>) {
        let n = fbshim_write_buf_to_fd(bufv, Int32(fi.pointee.fh), off)
        if n < 0 { return r.error(Int32(-n)) }
        r.write(n)
    }

    func flush(_ r: Request, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        // close() of a duplicate reports delayed write errors, as close(2)
        // would on the backing file, without closing `fh`.
        let d = dup(Int32(fi.pointee.fh))
        if d < 0 { return r.error(errno) }
        r.error(close(d) == 0 ? 0 : errno)
    }

    func release(_ r: Request, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        close(Int32(fi.pointee.fh))
        r.error(0)
    }

    func fsync(_ r: Request, _ datasync: Int32, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        let fd = Int32(fi.pointee.fh)
        r.error((datasync != 0 ? fdatasync(fd) : Glibc.fsync(fd)) == 0 ? 0 : errno)
    }

    func fallocate(_ r: Request, _ mode: Int32, _ off: off_t, _ len: off_t,
                   _ fi: UnsafeMutablePointer<fuse_file_info>) {
        r.error(fbshim_fallocate(Int32(fi.pointee.fh), mode, off, len) == 0 ? 0 : errno)
    }

    func lseek(_ r: Request, _ off: off_t, _ whence: Int32, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        let res = Glibc.lseek(Int32(fi.pointee.fh), off, whence)
        if res < 0 { return r.error(errno) }
        r.lseek(res)
    }

    func copyFileRange(_ r: Request, _ fiIn: UnsafeMutablePointer<fuse_file_info>, _ offIn: off_t,
                       _ fiOut: UnsafeMutablePointer<fuse_file_info>, _ offOut: off_t,
                       _ len: Int, _ flags: Int32) {
        var inOff = offIn
        var outOff = offOut
        let n = fbshim_copy_file_range(Int32(fiIn.pointee.fh), &inOff, Int32(fiOut.pointee.fh),
                                       &outOff, len, UInt32(bitPattern: flags))
        if n < 0 { return r.error(errno) }
        r.write(n)
    }
}
