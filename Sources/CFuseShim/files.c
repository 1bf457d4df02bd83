// File-system calls Swift cannot reach or name: file handles, fallocate,
// the file-system type, the xattr calls, flag constants and errno names.
#define _GNU_SOURCE
#include <spawn.h>
#include "CFuseShim.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <linux/fs.h>
#include <linux/fuse.h>
#include <linux/capability.h>
#include <stddef.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

int fbshim_name_to_handle(int dirfd, const char *path, int flags,
                          uint8_t *bytes, int *handle_type, int *mount_id) {
    union {
        struct file_handle fh;
        char space[sizeof(struct file_handle) + FBSHIM_MAX_HANDLE];
    } u;
    u.fh.handle_bytes = FBSHIM_MAX_HANDLE;
    if (name_to_handle_at(dirfd, path, &u.fh, mount_id, flags) != 0)
        return -1;
    memcpy(bytes, u.fh.f_handle, u.fh.handle_bytes);
    *handle_type = u.fh.handle_type;
    return (int)u.fh.handle_bytes;
}

int fbshim_open_by_handle(int mount_fd, int handle_type, const uint8_t *bytes,
                          int length, int flags) {
    union {
        struct file_handle fh;
        char space[sizeof(struct file_handle) + FBSHIM_MAX_HANDLE];
    } u;
    if (length < 0 || length > FBSHIM_MAX_HANDLE) {
        errno = EINVAL;
        return -1;
    }
    u.fh.handle_bytes = (unsigned)length;
    u.fh.handle_type = handle_type;
    memcpy(u.fh.f_handle, bytes, (size_t)length);
    // Needs CAP_DAC_READ_SEARCH, which a thread acting as a caller lacks.
    fbshim_server_section_begin();
    int fd = open_by_handle_at(mount_fd, &u.fh, flags);
    int saved = errno;
    fbshim_server_section_end();
    errno = saved;
    return fd;
}

int fbshim_renameat2(int olddirfd, const char *oldpath, int newdirfd,
                     const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

ssize_t fbshim_copy_file_range(int fd_in, off_t *off_in, int fd_out,
                               off_t *off_out, size_t len,
                               unsigned int flags) {
    return copy_file_range(fd_in, off_in, fd_out, off_out, len, flags);
}

int fbshim_fallocate(int fd, int mode, off_t offset, off_t len) {
    return fallocate(fd, mode, offset, len);
}

long fbshim_fs_type(int fd) {
    struct statfs s;
    if (fstatfs(fd, &s) != 0) return -1;
    return (long)s.f_type;
}

const char *fbshim_errno_name(int err) { return strerrorname_np(err); }

const int fbshim_O_PATH = O_PATH;

const int fbshim_AT_EMPTY_PATH = AT_EMPTY_PATH;

const int fbshim_O_DIRECT = O_DIRECT;

const long fbshim_UTIME_NOW = UTIME_NOW;

const long fbshim_UTIME_OMIT = UTIME_OMIT;

const int fbshim_RENAME_NOREPLACE = RENAME_NOREPLACE;

const int fbshim_RENAME_EXCHANGE = RENAME_EXCHANGE;
const int fbshim_O_NOATIME = O_NOATIME;
const int fbshim_SEEK_DATA = SEEK_DATA;

int fbshim_setxattr(const char *path, const char *name, const void *value,
                    size_t size, int flags) {
    return setxattr(path, name, value, size, flags);
}

ssize_t fbshim_getxattr(const char *path, const char *name, void *value,
                        size_t size) {
    return getxattr(path, name, value, size);
}

ssize_t fbshim_listxattr(const char *path, char *list, size_t size) {
    return listxattr(path, list, size);
}

int fbshim_removexattr(const char *path, const char *name) {
    return removexattr(path, name);
}

