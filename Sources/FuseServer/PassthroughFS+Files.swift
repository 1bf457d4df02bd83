// Open files: open, create, read, write, flush, release, fsync, fallocate,
// lseek and copy_file_range. `fh` is the backing descriptor.
import Contract
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

    /// The backing descriptor of an open file; a deferred handle (a
    /// passthrough open answered without one) is opened, and a handle of
    /// an earlier instance reopened or refused by policy, by node id with
    /// the flags it was opened with (kept in the handle: FLUSH, FSYNC and
    /// LSEEK carry no open flags).
    func fileFd(_ fi: UnsafeMutablePointer<fuse_file_info>, _ ino: UInt64) throws(SysError) -> Int32 {
        try files.descriptor(fi.pointee.fh, stats: stats) { (flags) throws(SysError) -> Int32 in
            // The file was opened before (the open checked the caller):
            // opened with the server's privileges, as a descriptor keeps
            // its access once open.
            fbshim_server_section_begin()
            defer { fbshim_server_section_end() }
            return try openNode(ino, flags: flags)
        }
    }

    /// Runs `body` (a write, truncation or truncating open) as the backing
    /// file system must see it for a request that asks to kill suid/sgid
    /// (FUSE_HANDLE_KILLPRIV_V2: the caller lacks CAP_FSETID): without
    /// CAP_FSETID, so that the backing file system kills them.
    @inline(__always)
    func asCallerWithoutFsetid<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        guard fbshim_thread_kill_suidgid() != 0 else { return try body() }
        _ = fbshim_thread_fsetid(0)
        defer { _ = fbshim_thread_fsetid(1) }
        return try body()
    }

    /// `fd` is node `ino`'s new descriptor. With passthrough, the reply
    /// this thread writes next makes it a passthrough open (ServerIO), and
    /// the kernel's page cache of the node is not used at all. Otherwise its
    /// page cache is kept only if the backing file is as this instance last
    /// saw it (CacheStamps).
    func setOpenFlags(_ fi: UnsafeMutablePointer<fuse_file_info>, _ ino: UInt64, _ fd: Int32) {
        if io.passthrough, let id = backing?.acquire(ino, fd) { return setPassthroughFlags(fi, ino, id) }
        fi.pointee.keep_cache = options.keepCache && cacheStamps.unchanged(ino, fd) ? 1 : 0
        fi.pointee.noflush = skipsFlush ? 1 : 0
    }

    /// The open reply this thread writes next makes it a passthrough open
    /// of backing id `id` (ServerIO): no page cache of the node's own.
    func setPassthroughFlags(_ fi: UnsafeMutablePointer<fuse_file_info>, _ ino: UInt64, _ id: Int32) {
        fbshim_set_thread_backing(id, ino)
        fi.pointee.keep_cache = 0
        // The kernel ignores FOPEN_NOFLUSH with write-back caching (its
        // flush writes dirty pages back first), so it is safe to set.
        fi.pointee.noflush = skipsFlush ? 1 : 0
    }

    /// A passthrough open answered at once with the backing id the node
    /// already has (registered by an open still open, or idle since its
    /// last release), without opening the backing file: the kernel opens
    /// its own backing file for every passthrough open, with the opener's
    /// flags, so this server needs no descriptor until FSYNC and the like
    /// (a deferred handle). Only where opening it here would check nothing
    /// the kernel does not: the server opens as itself (root, or a caller
    /// who is root) or the kernel checks permissions (default_permissions);
    /// no O_TRUNC, which this server must do; and no handover-state keeper,
    /// which holds a descriptor of every open file.
    func reusedPassthroughOpen(_ ino: UInt64, _ flags: Int32, _ fi: UnsafeMutablePointer<fuse_file_info>) -> Bool {
        guard io.passthrough, let backing, flags & O_TRUNC == 0, files.keeper == nil,
              options.defaultPermissions || fbshim_thread_is_caller() == 0,
              let id = backing.reuse(ino) else { return false }
        fi.pointee.fh = files.deferredHandle(flags: flags)
        setPassthroughFlags(fi, ino, id)
        return true
    }

    func open(_ r: consuming Request, _ ino: UInt64, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do throws(SysError) {
            let flags = backingFlags(fi.pointee.flags)
            if !reusedPassthroughOpen(ino, flags, fi) {
                let fd = try asCallerWithoutFsetid { () throws(SysError) in try openNode(ino, flags: flags) }
                fi.pointee.fh = files.fileHandle(fd, flags: flags)
                setOpenFlags(fi, ino, fd)
            }
            if !r.open(fi) { files.release(fi.pointee.fh) }
        } catch { r.fail(error) }
    }

    func create(_ r: consuming Request, _ parent: UInt64, _ name: UnsafePointer<CChar>, _ mode: mode_t,
                _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do throws(SysError) {
            var fileFd: Int32 = -1
            let openFlags = backingFlags(fi.pointee.flags)
            let e = try nodes.withFd(parent) { (p) throws(SysError) in
                let flags = openFlags | O_CREAT | (fi.pointee.flags & O_EXCL)
                fileFd = asCallerWithoutFsetid { openat(p, name, flags | O_CLOEXEC, mode) }
                if fileFd < 0 && errno == EEXIST && r.mayHaveTakenEffect {
                    // Resent, and the first attempt created it: open what it created.
                    r.recognised()
                    fileFd = openat(p, name, (flags & ~(O_CREAT | O_EXCL | O_TRUNC)) | O_CLOEXEC)
                }
                if fileFd < 0 { throw SysError.current }
                do throws(SysError) {
                    return try makeEntry(p, name, parent: parent, fresh: true)
                } catch {
                    close(fileFd)
                    throw error
                }
            }
            fi.pointee.fh = files.fileHandle(fileFd, flags: openFlags)
            setOpenFlags(fi, e.ino, fileFd)
            if !r.create(e, fi) { files.release(fi.pointee.fh) }
        } catch { r.fail(error) }
    }

    func read(_ r: consuming Request, _ ino: UInt64, _ size: Int, _ off: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do throws(SysError) {
            r.data(fd: try fileFd(fi, ino), size: size, offset: off)
        } catch { r.fail(error) }
    }

    func writeBuf(_ r: consuming Request, _ ino: UInt64, _ bufv: UnsafeMutablePointer<fuse_bufvec>, _ off: off_t,
                  _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do throws(SysError) {
            let fd = try fileFd(fi, ino)
            let n = asCallerWithoutFsetid { fbshim_write_buf_to_fd(bufv, fd, off) }
            if n < 0 { return r.error(Int32(-n)) }
            r.write(n)
        } catch { r.fail(error) }
    }

    func flush(_ r: consuming Request, _ ino: UInt64, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        // close() of a duplicate reports delayed write errors, as close(2)
        // would on the backing file, without closing `fh`.
        do throws(SysError) {
            let d = dup(try fileFd(fi, ino))
            if d < 0 { return r.error(errno) }
            r.error(close(d) == 0 ? 0 : errno)
        } catch { r.fail(error) }
    }

    func release(_ r: consuming Request, _ ino: UInt64, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        // Released by its first reading already: a second release would
        // close a descriptor number another open may hold by now.
        if r.resentOwn { return r.error(0) }
        // What was written through the mount is what the kernel cached.
        if options.keepCache, files.isOwn(fi.pointee.fh), let fd = OpenFiles.ownDescriptor(fi.pointee.fh) {
            cacheStamps.note(ino, fd)
        }
        files.release(fi.pointee.fh)
        backing?.release(ino)
        r.error(0)
    }

    func fsync(_ r: consuming Request, _ ino: UInt64, _ datasync: Int32, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do throws(SysError) {
            let fd = try fileFd(fi, ino)
            r.error((datasync != 0 ? fdatasync(fd) : Glibc.fsync(fd)) == 0 ? 0 : errno)
        } catch { r.fail(error) }
    }

    func fallocate(_ r: consuming Request, _ ino: UInt64, _ mode: Int32, _ off: off_t, _ len: off_t,
                   _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do throws(SysError) {
            r.error(fbshim_fallocate(try fileFd(fi, ino), mode, off, len) == 0 ? 0 : errno)
        } catch { r.fail(error) }
    }

    func lseek(_ r: consuming Request, _ ino: UInt64, _ off: off_t, _ whence: Int32, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do throws(SysError) {
            let res = Glibc.lseek(try fileFd(fi, ino), off, whence)
            if res < 0 { return r.error(errno) }
            r.lseek(res)
        } catch { r.fail(error) }
    }

    func copyFileRange(_ r: consuming Request, _ inoIn: UInt64, _ fiIn: UnsafeMutablePointer<fuse_file_info>, _ offIn: off_t,
                       _ inoOut: UInt64, _ fiOut: UnsafeMutablePointer<fuse_file_info>, _ offOut: off_t,
                       _ len: Int, _ flags: Int32) {
        do throws(SysError) {
            var inOff = offIn
            var outOff = offOut
            let n = fbshim_copy_file_range(try fileFd(fiIn, inoIn), &inOff, try fileFd(fiOut, inoOut),
                                           &outOff, len, UInt32(bitPattern: flags))
            if n < 0 { return r.error(errno) }
            r.write(n)
        } catch { r.fail(error) }
    }
}
