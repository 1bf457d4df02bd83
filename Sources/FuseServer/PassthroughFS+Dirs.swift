// Directories: opendir, readdir, readdirplus, releasedir, fsyncdir. `fh` is
// a retained DirHandle.
import Contract
import CFuseShim
import Glibc

/// An open directory stream and the position the kernel last asked for.
/// Unchecked Sendable: the kernel sends one READDIR at a time per open
/// directory, so one stream is never used by two threads at once.
final class DirHandle: @unchecked Sendable {
    let dir: OpaquePointer
    var offset: off_t = 0
    var pending: UnsafeMutablePointer<dirent>?

    init(dir: OpaquePointer) { self.dir = dir }
    deinit { closedir(dir) }
}

extension PassthroughFS {
    func openDirStream(_ ino: UInt64) throws(SysError) -> DirHandle {
        let fd = try openNode(ino, flags: O_RDONLY | O_DIRECTORY)
        guard let dir = fdopendir(fd) else {
            let e = errno
            close(fd)
            throw SysError(e)
        }
        return DirHandle(dir: dir)
    }

    func dirHandle(_ ino: UInt64, _ fi: UnsafeMutablePointer<fuse_file_info>) throws(SysError) -> DirHandle {
        try files.dir(fi.pointee.fh, stats: stats) { () throws(SysError) in
            // Opened before, by an earlier server: reopened with the server's privileges.
            fbshim_server_section_begin()
            defer { fbshim_server_section_end() }
            return try openDirStream(ino)
        }
    }

    func opendir(_ r: consuming Request, _ ino: UInt64, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do throws(SysError) {
            let d = try openDirStream(ino)
            if options.keepCache {
                // The kernel caches the listing (FOPEN_CACHE_DIR) and keeps
                // it across opens while the directory is as last seen.
                fi.pointee.cache_readdir = 1
                fi.pointee.keep_cache = cacheStamps.unchanged(ino, dirfd(d.dir)) ? 1 : 0
            }
            fi.pointee.fh = files.addDir(d)
            if !r.open(fi) { files.releaseDir(fi.pointee.fh) }
        } catch { r.fail(error) }
    }

    func readdir(_ r: consuming Request, _ ino: UInt64, _ size: Int, _ off: off_t, _ fi: UnsafeMutablePointer<fuse_file_info>,
                 plus: Bool) {
        let h: DirHandle
        do throws(SysError) { h = try dirHandle(ino, fi) } catch { return r.fail(error) }
        let buf = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 8)
        defer { buf.deallocate() }
        if off != h.offset {
            seekdir(h.dir, Int(off))
            h.pending = nil
            h.offset = off
        }
        var used = 0
        var failure: Int32 = 0
        while true {
            if h.pending == nil {
                errno = 0
                guard let ent = Glibc.readdir(h.dir) else {
                    failure = errno
                    break
                }
                h.pending = ent
            }
            let ent = h.pending!
            let nextOff = ent.pointee.d_off
            let added: Int = withUnsafePointer(to: &ent.pointee.d_name) { namePtr in
                namePtr.withMemoryRebound(to: CChar.self, capacity: 256) { name in
                    let out = buf.advanced(by: used).assumingMemoryBound(to: CChar.self)
                    if plus {
                        var e = fuse_entry_param()
                        if isDotOrDotDot(name) {
                            e.attr.st_ino = ent.pointee.d_ino
                            e.attr.st_mode = mode_t(ent.pointee.d_type) << 12
                        } else {
                            do throws(SysError) {
                                e = try makeEntry(dirfd(h.dir), name, parent: ino)
                            } catch {
                                failure = error.code
                                return -1
                            }
                        }
                        let n = fuse_add_direntry_plus(r.req, out, size - used, name, &e, nextOff)
                        if n > size - used {
                            if e.ino != 0 { nodes.forget(e.ino, 1) }
                            return 0
                        }
                        return n
                    } else {
                        var st = stat()
                        st.st_ino = ent.pointee.d_ino
                        st.st_mode = mode_t(ent.pointee.d_type) << 12
                        let n = fuse_add_direntry(r.req, out, size - used, name, &st, nextOff)
                        return n > size - used ? 0 : n
                    }
                }
            }
            if added <= 0 { break }
            used += added
            h.pending = nil
            h.offset = nextOff
        }
        // An error after some entries were added is reported on the next call.
        if used == 0 && failure != 0 { return r.error(failure) }
        r.buf(buf, used)
    }

    func releasedir(_ r: consuming Request, _ ino: UInt64, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        // As RELEASE: released by its first reading already.
        if r.resentOwn { return r.error(0) }
        if options.keepCache, let d = files.ownDir(fi.pointee.fh) {
            cacheStamps.note(ino, dirfd(d.dir))
        }
        files.releaseDir(fi.pointee.fh)
        r.error(0)
    }

    func fsyncdir(_ r: consuming Request, _ ino: UInt64, _ datasync: Int32, _ fi: UnsafeMutablePointer<fuse_file_info>) {
        do throws(SysError) {
            let fd = dirfd(try dirHandle(ino, fi).dir)
            r.error((datasync != 0 ? fdatasync(fd) : Glibc.fsync(fd)) == 0 ? 0 : errno)
        } catch { r.fail(error) }
    }
}

@inline(__always)
func isDotOrDotDot(_ name: UnsafePointer<CChar>) -> Bool {
    name[0] == 0x2E && (name[1] == 0 || (name[1] == 0x2E && name[2] == 0))
}
