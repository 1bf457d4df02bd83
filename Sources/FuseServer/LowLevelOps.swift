// The fuse_lowlevel_ops table: one capture-free closure per callback that
// finds the PassthroughFS behind fuse_req_userdata and calls its method.
import Contract
import CFuseShim
import Glibc

@inline(__always)
private func server(_ req: fuse_req_t?) -> PassthroughFS {
    Unmanaged<PassthroughFS>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
}

@inline(__always)
private func serve(_ req: fuse_req_t?, _ op: Opcode, _ body: (PassthroughFS, consuming Request) -> Void) {
    let fs = server(req)
    let r = Request(req!, op, fs.stats, intents: fs.intents)
    if fs.debugDelayMicros > 0 { usleep(fs.debugDelayMicros) }
    if fs.debugFailEvery > 0, op != .forget, op != .batchForget,
       (fs.debugFailCounter.add(1, ordering: .relaxed).newValue) % fs.debugFailEvery == 0 {
        r.error(EIO)
        return
    }
    guard fs.options.callerCredentials else { return body(fs, r) }
    guard op.actsAsCaller, let ctx = fuse_req_ctx(req) else {
        // A worker that libfuse started from another holds that one's last
        // caller's credentials until it sets its own.
        fbshim_settle_thread()
        return body(fs, r)
    }
    // The caller's credentials for the backing system calls. The thread
    // keeps them after the reply (switching costs three credential
    // commits each way); the next request switches only if its caller
    // differs, and root's requests switch back to the server's own.
    if fbshim_become_caller(ctx.pointee.uid, ctx.pointee.gid, ctx.pointee.pid) != 0 {
        let e = errno
        fbshim_become_server()
        return r.error(e)
    }
    body(fs, r)
}

extension Opcode {
    /// Requests made with the caller's credentials: every request but
    /// those the kernel sends without a caller's (INIT, DESTROY, INTERRUPT,
    /// FORGET, BATCH_FORGET, and RELEASE and RELEASEDIR, sent with uid 0
    /// after the last close: switching to root for them and back for the
    /// next request doubled WRITE's service time), so that the requests of
    /// one caller in a row switch nothing. What
    /// needs the server's privileges inside them (open_by_handle_at, the
    /// reopening of an earlier server's handles) takes them back for itself.
    var actsAsCaller: Bool {
        switch self {
        case .initialize, .destroy, .interrupt, .forget, .batchForget, .release, .releasedir: return false
        default: return true
        }
    }
}

extension PassthroughFS {
    /// The callback table handed to fuse_session_new.
    static func lowLevelOps() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { userdata, conn in
            Unmanaged<PassthroughFS>.fromOpaque(userdata!).takeUnretainedValue().initialize(conn!)
        }
        ops.lookup = { req, parent, name in serve(req, .lookup) { $0.lookup($1, parent, name!) } }
        ops.forget = { req, ino, n in serve(req, .forget) { $0.forget($1, ino, n) } }
        ops.forget_multi = { req, count, list in
            serve(req, .batchForget) { $0.forgetMulti($1, count, list!) }
        }
        ops.getattr = { req, ino, _ in serve(req, .getattr) { $0.getattr($1, ino) } }
        ops.setattr = { req, ino, attr, valid, fi in
            serve(req, .setattr) { $0.setattr($1, ino, attr!, valid, fi) }
        }
        ops.readlink = { req, ino in serve(req, .readlink) { $0.readlink($1, ino) } }
        ops.mknod = { req, parent, name, mode, rdev in
            serve(req, .mknod) { $0.mknod($1, parent, name!, mode, rdev) }
        }
        ops.mkdir = { req, parent, name, mode in serve(req, .mkdir) { $0.mkdir($1, parent, name!, mode) } }
        ops.unlink = { req, parent, name in serve(req, .unlink) { $0.unlink($1, parent, name!, flags: 0) } }
        ops.rmdir = { req, parent, name in
            serve(req, .rmdir) { $0.unlink($1, parent, name!, flags: AT_REMOVEDIR) }
        }
        ops.symlink = { req, target, parent, name in
            serve(req, .symlink) { $0.symlink($1, target!, parent, name!) }
        }
        ops.rename = { req, parent, name, newParent, newName, flags in
            serve(req, .rename) { $0.rename($1, parent, name!, newParent, newName!, flags) }
        }
        ops.link = { req, ino, newParent, newName in
            serve(req, .link) { $0.link($1, ino, newParent, newName!) }
        }
        ops.open = { req, ino, fi in serve(req, .open) { $0.open($1, ino, fi!) } }
        ops.create = { req, parent, name, mode, fi in
            serve(req, .create) { $0.create($1, parent, name!, mode, fi!) }
        }
        ops.read = { req, ino, size, off, fi in serve(req, .read) { $0.read($1, ino, size, off, fi!) } }
        ops.write_buf = { req, ino, bufv, off, fi in serve(req, .write) { $0.writeBuf($1, ino, bufv!, off, fi!) } }
        ops.flush = { req, ino, fi in serve(req, .flush) { $0.flush($1, ino, fi!) } }
        ops.release = { req, ino, fi in serve(req, .release) { $0.release($1, ino, fi!) } }
        ops.fsync = { req, ino, datasync, fi in serve(req, .fsync) { $0.fsync($1, ino, datasync, fi!) } }
        ops.opendir = { req, ino, fi in serve(req, .opendir) { $0.opendir($1, ino, fi!) } }
        ops.readdir = { req, ino, size, off, fi in
            serve(req, .readdir) { $0.readdir($1, ino, size, off, fi!, plus: false) }
        }
        ops.readdirplus = { req, ino, size, off, fi in
            serve(req, .readdirplus) { $0.readdir($1, ino, size, off, fi!, plus: true) }
        }
        ops.releasedir = { req, ino, fi in serve(req, .releasedir) { $0.releasedir($1, ino, fi!) } }
        ops.fsyncdir = { req, ino, datasync, fi in serve(req, .fsyncdir) { $0.fsyncdir($1, ino, datasync, fi!) } }
        ops.statfs = { req, ino in serve(req, .statfs) { $0.statfs($1, ino) } }
        ops.access = { req, ino, mask in serve(req, .access) { $0.access($1, ino, mask) } }
        ops.setxattr = { req, ino, name, value, size, flags in
            serve(req, .setxattr) { $0.setxattr($1, ino, name!, value!, size, flags) }
        }
        ops.getxattr = { req, ino, name, size in serve(req, .getxattr) { $0.getxattr($1, ino, name!, size) } }
        ops.listxattr = { req, ino, size in serve(req, .listxattr) { $0.listxattr($1, ino, size) } }
        ops.removexattr = { req, ino, name in serve(req, .removexattr) { $0.removexattr($1, ino, name!) } }
        ops.fallocate = { req, ino, mode, off, len, fi in
            serve(req, .fallocate) { $0.fallocate($1, ino, mode, off, len, fi!) }
        }
        ops.lseek = { req, ino, off, whence, fi in serve(req, .lseek) { $0.lseek($1, ino, off, whence, fi!) } }
        ops.copy_file_range = { req, inoIn, offIn, fiIn, inoOut, offOut, fiOut, len, flags in
            serve(req, .copyFileRange) { $0.copyFileRange($1, inoIn, fiIn!, offIn, inoOut, fiOut!, offOut, len, flags) }
        }
        return ops
    }
}

/// Custom I/O entry points (fuse_session_custom_io); `userdata` is the
/// session's, i.e. the PassthroughFS.
let serverRead: fbshim_read_fn = { fd, buf, len, userdata in
    Unmanaged<PassthroughFS>.fromOpaque(userdata!).takeUnretainedValue().io.read(fd, buf!, len)
}

let serverWritev: fbshim_writev_fn = { fd, iov, count, userdata in
    Unmanaged<PassthroughFS>.fromOpaque(userdata!).takeUnretainedValue().io.writev(fd, iov!, count)
}
