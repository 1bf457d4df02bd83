// Runs a PassthroughFS in a libfuse session: on a mountpoint it mounts
// itself, or on a /dev/fuse descriptor that the harness already mounted.
import Contract
import CFuseShim
import Glibc

/// Where the session's connection comes from.
public enum MountTarget: Sendable {
    /// libfuse mounts this directory itself.
    case path(String)
    /// An open /dev/fuse descriptor, already mounted by the caller.
    case fuseFd(Int32)
}

/// Errors of starting or running a session.
public enum SessionError: Error, CustomStringConvertible {
    /// fuse_session_new failed.
    case sessionNew
    /// fuse_session_mount failed.
    case mount(String)
    /// The loop ended with an error.
    case loop(Int32)

    /// What happened, in words.
    public var description: String {
        switch self {
        case .sessionNew: return "libfuse could not create a session (fuse_session_new failed)"
        case .mount(let m): return "libfuse could not mount \(m); see libfuse's message above"
        case .loop(let e): return "the FUSE session loop ended with error \(e)"
        }
    }
}

/// Runs the server until unmount or a stop signal.
public enum FuseSessionRunner {
    /// Runs `fs` on `target`; `onReady` is called once FUSE_INIT was handled.
    /// Returns when the file system is unmounted or a stop signal arrives.
    public static func run(_ fs: PassthroughFS, target: MountTarget, fsname: String,
                           onReady: (@Sendable () -> Void)? = nil) throws {
        fs.onInit = onReady
        var ops = PassthroughFS.lowLevelOps()
        let extra = fs.options.mountOptionString
        let argStrings = ["fusebench", "-o", "fsname=\(fsname),subtype=fusebench" + (extra.isEmpty ? "" : ",\(extra)")]
        var cargs: [UnsafeMutablePointer<CChar>?] = argStrings.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        let userdata = Unmanaged.passUnretained(fs).toOpaque()
        let se: OpaquePointer? = cargs.withUnsafeMutableBufferPointer { argv in
            var args = fuse_args(argc: Int32(argStrings.count), argv: argv.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&args) }
            return fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size, userdata)
        }
        guard let se else { throw SessionError.sessionNew }
        defer { fuse_session_destroy(se) }
        fs.session = se
        if fuse_set_signal_handlers(se) != 0 { throw SessionError.sessionNew }
        defer { fuse_remove_signal_handlers(se) }
        switch target {
        case .path(let p):
            if fuse_session_mount(se, p) != 0 { throw SessionError.mount(p) }
            // The same read/writev on the descriptor libfuse mounted, so
            // that INIT gains KILLPRIV_V2 here too.
            if fbshim_session_custom_io(se, fuse_session_fd(se), serverRead, serverWritev,
                                        fs.options.splice ? 1 : 0) != 0 {
                fuse_session_unmount(se)
                throw SessionError.mount(p)
            }
        case .fuseFd(let fd):
            // Our own read/writev on the harness's descriptor: they save
            // or replay FUSE_INIT, count resent requests and add KILLPRIV_V2
            // to the INIT reply (ServerIO).
            if fbshim_session_custom_io(se, fd, serverRead, serverWritev, fs.options.splice ? 1 : 0) != 0 {
                throw SessionError.mount("/dev/fd/\(fd)")
            }
        }
        defer { fuse_session_unmount(se) }
        fs.backing?.setFuseFd(fuse_session_fd(se))
        if fs.options.ioUring {
            fs.io.onConnectionReady.withLock { $0 = { [fs] in fs.startUring() } }
        }

        // handover-state: the open files of earlier instances, before the
        // first request can name one of their handles.
        var adoptFiles: (@Sendable () -> Void)? = nil
        if let keeper = fs.files.keeper, fs.restart.instance > 1 {
            let files = fs.files
            adoptFiles = { files.adopt(keeper.receiveState()) }
        }
        if let standby = fs.restart.standbyFd, fs.options.ioUring {
            // A warm standby on io_uring: its queues are registered once
            // INIT is handled, so it waits for the harness's go before it.
            var b: UInt8 = 0
            while read(standby, &b, 1) < 0 && errno == EINTR {}
            close(standby)
            adoptFiles?()
        } else if let adoptFiles {
            // Other warm standbys wait at the gate of their reads (ServerIO),
            // the saved INIT already handled: the files come after the go,
            // before the eager revalidation (given at INIT, after this).
            fs.io.atGate(adoptFiles)
        }
        let cfg = fuse_loop_cfg_create()
        defer { fuse_loop_cfg_destroy(cfg) }
        fuse_loop_cfg_set_max_threads(cfg, UInt32(max(1, fs.options.threads)))
        fuse_loop_cfg_set_idle_threads(cfg, UInt32(max(1, fs.options.threads)))
        fuse_loop_cfg_set_clone_fd(cfg, fs.options.cloneFd ? 1 : 0)
        // Every read of the device goes through ServerIO's readers (not a
        // ring's, not a splice's): at a handover the harness need not wait
        // for the threads that are none of them (fbshim_no_thread_reads_fuse).
        if !fs.options.ioUring && !fs.options.splice {
            fbshim_set_readers_complete(fs.io.stats.region)
        }
        let rc = fuse_session_loop_mt(se, cfg)
        // No queue thread may serve a request once the session is gone.
        fbshim_uring_stop(fs.uring)
        // ENODEV: unmounted. ECONNABORTED: the same end, met by a worker
        // that was taking a request off the device when the unmount ended
        // the connection (with passthrough, the RELEASEs of files closed
        // just before the unmount are still arriving then).
        if rc < 0 && rc != -ENODEV && rc != -ECONNABORTED { throw SessionError.loop(-rc) }
    }
}
