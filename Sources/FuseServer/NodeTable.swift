// The node table: node id -> lookup count and a cached O_PATH descriptor.
//
// With the handle scheme the table is a cache, not the truth: a node id
// names the backing inode and generation, so a miss (after eviction, or in a
// new server process) is resolved with open_by_handle_at. With the ephemeral
// scheme ids come from a counter and a miss is an unknown node (ESTALE).
//
// Lock order: `ephemeral` before any shard. A shard's lock is held only for
// dictionary work and, on eviction, for close(2) of descriptors nobody uses.
import Contract
import CFuseShim
import Glibc
import Synchronization

/// Node ids handed to the kernel and what they resolve to.
public final class NodeTable: Sendable {
    /// FUSE_ROOT_ID.
    public static let rootId: UInt64 = 1

    struct Entry {
        var nlookup: UInt64
        var fd: Int32
        var users: Int32
        var handle: BackingHandle?
        var forgotten: Bool
    }

    struct ShardState {
        var map: [UInt64: Entry] = [:]
        var cached = 0
        /// Inode number -> id of the entry that holds a descriptor of that
        /// inode (handle and inode schemes), for `rememberLive`.
        var live: [UInt32: UInt64] = [:]
    }

    final class Shard: Sendable {
        let state = Mutex(ShardState())
    }

    struct EphemeralState {
        var byHandle: [BackingHandle: UInt64] = [:]
        var next: UInt64 = 2
    }

    /// The scheme in use.
    public let scheme: NodeIdScheme
    /// O_PATH|O_DIRECTORY descriptor of the backing root; also the mount fd
    /// for open_by_handle_at.
    public let rootFd: Int32
    /// Handle of the backing root.
    public let rootHandle: BackingHandle
    private let shards: [Shard]
    private let capacityPerShard: Int
    private let ephemeral = Mutex(EphemeralState())
    private let nodeCount = Atomic<Int>(0)
    private let fdCount = Atomic<Int>(0)
    private let stats: StatsRegion
    /// Answer ESTALE for ids this table did not hand out (mark-bad strategy).
    public let refuseUnknown: Bool

    /// A table over the backing root `rootFd` (kept open by the caller).
    public init(scheme: NodeIdScheme, rootFd: Int32, fdCapacity: Int, stats: StatsRegion,
                refuseUnknown: Bool = false) throws(SysError) {
        self.refuseUnknown = refuseUnknown
        self.scheme = scheme
        self.rootFd = rootFd
        self.stats = stats
        rootHandle = try BackingHandle.of(rootFd, "", flags: fbshim_AT_EMPTY_PATH)
        if scheme != .ephemeral && rootHandle.packedNodeId == nil {
            throw SysError(EOPNOTSUPP)
        }
        let n = 16
        shards = (0..<n).map { _ in Shard() }
        capacityPerShard = max(8, fdCapacity / n)
    }

    /// The shard of `id`: by inode number for the handle and inode
    /// schemes (so that `rememberLive` finds an id from the number alone),
    /// by the counter for ephemeral ids.
    @inline(__always)
    private func shard(_ id: UInt64) -> Shard {
        let key = scheme == .ephemeral ? id : id >> 32
        return shards[Int(truncatingIfNeeded: (key ^ (key >> 16)) & UInt64(shards.count - 1))]
    }

    /// Records that entry `id` now holds a descriptor (`on`) or no longer does.
    @inline(__always)
    private func markLive(_ st: inout ShardState, _ id: UInt64, _ on: Bool) {
        guard scheme != .ephemeral else { return }
        let ino = UInt32(truncatingIfNeeded: id >> 32)
        if on {
            st.live[ino] = id
        } else if st.live[ino] == id {
            st.live[ino] = nil
        }
    }

    /// One more lookup of the backing inode numbered `ino`, if the table
    /// holds a descriptor of it; returns its node id, or nil (then the
    /// caller resolves the name with a handle). Sound because the held
    /// descriptor keeps that inode allocated: no other file can carry its
    /// number, so the number alone names it, generation included. Handle
    /// and inode schemes only.
    public func rememberLive(inode ino: UInt64) -> UInt64? {
        guard scheme != .ephemeral, ino != 0, ino <= UInt64(UInt32.max) else { return nil }
        return shard(ino << 32).state.withLock { st -> UInt64? in
            guard let id = st.live[UInt32(ino)], let i = st.map.index(forKey: id), st.map.values[i].fd >= 0 else {
                return nil
            }
            st.map.values[i].nlookup += 1
            st.map.values[i].forgotten = false
            return id
        }
    }

    /// Number of nodes the table knows.
    public var count: Int { nodeCount.load(ordering: .relaxed) }
    /// Number of cached descriptors.
    public var cachedDescriptors: Int { fdCount.load(ordering: .relaxed) }

    /// Records one lookup of `handle`; `fd` (O_PATH) passes to the table.
    /// Returns the node id to hand to the kernel.
    public func remember(_ handle: BackingHandle, fd: Int32) throws(SysError) -> UInt64 {
        switch scheme {
        case .handle, .inode:
            guard handle.type == rootHandle.type, let packed = handle.packedNodeId else {
                close(fd)
                throw SysError(EOPNOTSUPP)
            }
            let id = scheme == .inode ? packed & ~0xffff_ffff : packed
            insert(id, fd: fd, handle: nil)
            return id
        case .ephemeral:
            return ephemeral.withLock { st in
                let id: UInt64
                if let known = st.byHandle[handle] {
                    id = known
                } else {
                    id = st.next
                    st.next += 1
                    st.byHandle[handle] = id
                }
                insert(id, fd: fd, handle: handle)
                return id
            }
        }
    }

    private func insert(_ id: UInt64, fd: Int32, handle: BackingHandle?) {
        var spare: Int32 = -1
        shard(id).state.withLock { st in
            if let i = st.map.index(forKey: id) {
                st.map.values[i].nlookup += 1
                st.map.values[i].forgotten = false
                if st.map.values[i].fd < 0 {
                    st.map.values[i].fd = fd
                    markLive(&st, id, true)
                    st.cached += 1
                    fdCount.add(1, ordering: .relaxed)
                } else {
                    spare = fd
                }
            } else {
                st.map[id] = Entry(nlookup: 1, fd: fd, users: 0, handle: handle, forgotten: false)
                markLive(&st, id, true)
                st.cached += 1
                fdCount.add(1, ordering: .relaxed)
                nodeCount.add(1, ordering: .relaxed)
            }
            if st.cached > capacityPerShard { evict(&st) }
        }
        if spare >= 0 { close(spare) }
        publish()
    }

    /// Closes descriptors nobody is using until the shard is at 3/4 capacity.
    private func evict(_ st: inout ShardState) {
        let target = capacityPerShard * 3 / 4
        var victims: [UInt64] = []
        for (id, e) in st.map where e.users == 0 && e.fd >= 0 {
            victims.append(id)
            if st.cached - victims.count <= target { break }
        }
        for id in victims {
            let i = st.map.index(forKey: id)!
            close(st.map.values[i].fd)
            st.map.values[i].fd = -1
            markLive(&st, id, false)
            st.cached -= 1
            fdCount.subtract(1, ordering: .relaxed)
            if st.map.values[i].nlookup == 0 && scheme != .ephemeral {
                st.map.remove(at: i)
                nodeCount.subtract(1, ordering: .relaxed)
            }
        }
    }

    /// The O_PATH descriptor of node `id`, held until `release(id)`.
    public func acquire(_ id: UInt64) throws(SysError) -> Int32 {
        if id == Self.rootId { return rootFd }
        let s = shard(id)
        var storedHandle: BackingHandle?
        let fast: Int32 = s.state.withLock { st in
            guard let i = st.map.index(forKey: id) else { return -1 }
            if st.map.values[i].fd >= 0 {
                st.map.values[i].users += 1
                return st.map.values[i].fd
            }
            storedHandle = st.map.values[i].handle
            return -1
        }
        if fast >= 0 { return fast }
        if refuseUnknown && storedHandle == nil && !known(id) {
            stats.countUnknownNode()
            throw SysError(ESTALE)
        }
        let handle: BackingHandle
        switch scheme {
        case .handle, .inode:
            handle = BackingHandle.unpack(id, type: rootHandle.type)
        case .ephemeral:
            guard let h = storedHandle else {
                stats.countUnknownNode()
                throw SysError(ESTALE)
            }
            handle = h
        }
        let fd: Int32
        do throws(SysError) {
            fd = try handle.open(mountFd: rootFd, flags: fbshim_O_PATH | O_CLOEXEC)
        } catch {
            stats.countUnknownNode()
            throw error
        }
        var spare: Int32 = -1
        let result: Int32 = s.state.withLock { st in
            if let i = st.map.index(forKey: id) {
                st.map.values[i].users += 1
                if st.map.values[i].fd >= 0 {
                    spare = fd
                    return st.map.values[i].fd
                }
                st.map.values[i].fd = fd
            } else {
                st.map[id] = Entry(nlookup: 0, fd: fd, users: 1,
                                   handle: scheme == .ephemeral ? handle : nil, forgotten: false)
                nodeCount.add(1, ordering: .relaxed)
            }
            markLive(&st, id, true)
            st.cached += 1
            fdCount.add(1, ordering: .relaxed)
            if st.cached > capacityPerShard { evict(&st) }
            return fd
        }
        if spare >= 0 { close(spare) }
        return result
    }

    /// Ends a use begun by `acquire`.
    public func release(_ id: UInt64) {
        if id == Self.rootId { return }
        var dead: Int32 = -1
        shard(id).state.withLock { st in
            guard let i = st.map.index(forKey: id) else { return }
            st.map.values[i].users -= 1
            if st.map.values[i].users == 0 && st.map.values[i].forgotten { dead = remove(&st, at: i) }
        }
        closeRemoved(dead)
    }

    /// Runs `body` with node `id`'s O_PATH descriptor.
    @inline(__always)
    public func withFd<T>(_ id: UInt64, _ body: (Int32) throws(SysError) -> T) throws(SysError) -> T {
        let fd = try acquire(id)
        defer { release(id) }
        return try body(fd)
    }

    private func known(_ id: UInt64) -> Bool {
        shard(id).state.withLock { $0.map[id] != nil }
    }

    /// The backing handle of node `id` (to open it with open_by_handle_at).
    public func handle(of id: UInt64) throws(SysError) -> BackingHandle {
        if id == Self.rootId { return rootHandle }
        switch scheme {
        case .handle, .inode:
            if refuseUnknown && !known(id) {
                stats.countUnknownNode()
                throw SysError(ESTALE)
            }
            return BackingHandle.unpack(id, type: rootHandle.type)
        case .ephemeral:
            let h = shard(id).state.withLock { st in st.map[id]?.handle }
            guard let h else {
                stats.countUnknownNode()
                throw SysError(ESTALE)
            }
            return h
        }
    }

    /// The kernel forgot `n` lookups of node `id`.
    public func forget(_ id: UInt64, _ n: UInt64) {
        if id == Self.rootId { return }
        if scheme == .ephemeral {
            ephemeral.withLock { eph in forgetLocked(id, n, eph: &eph) }
        } else {
            var none = EphemeralState()
            forgetLocked(id, n, eph: &none)
        }
        publish()
    }

    private func forgetLocked(_ id: UInt64, _ n: UInt64, eph: inout EphemeralState) {
        var dead: Int32 = -1
        shard(id).state.withLock { st in
            guard let i = st.map.index(forKey: id) else { return }
            let left = st.map.values[i].nlookup > n ? st.map.values[i].nlookup - n : 0
            st.map.values[i].nlookup = left
            guard left == 0 else { return }
            if let h = st.map.values[i].handle, eph.byHandle[h] == id { eph.byHandle[h] = nil }
            if st.map.values[i].users > 0 {
                st.map.values[i].forgotten = true
                return
            }
            dead = remove(&st, at: i)
        }
        closeRemoved(dead)
    }

    /// Drops entry `i`; returns its descriptor (or -1) to close outside the lock.
    private func remove(_ st: inout ShardState, at i: Dictionary<UInt64, Entry>.Index) -> Int32 {
        let fd = st.map.values[i].fd
        if fd >= 0 {
            st.cached -= 1
            markLive(&st, st.map.keys[i], false)
        }
        st.map.remove(at: i)
        nodeCount.subtract(1, ordering: .relaxed)
        return fd
    }

    private func closeRemoved(_ fd: Int32) {
        guard fd >= 0 else { return }
        close(fd)
        fdCount.subtract(1, ordering: .relaxed)
    }

    private func publish() {
        stats.setNodeGauges(nodes: nodeCount.load(ordering: .relaxed),
                            cachedFds: fdCount.load(ordering: .relaxed))
    }
}
