// Linux calls that Glibc's Swift overlay hides behind _GNU_SOURCE.
#ifndef C_FERRY_SYSTEM_H
#define C_FERRY_SYSTEM_H

#include <sys/types.h>
#include <sys/socket.h>

/// open(2) flag O_PATH: a handle for walking and fstat, never reading.
int cferry_o_path(void);

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: starts writing a range of a file to disk without waiting, so the
/// fsync before a commit finds little left to write. 0 where there is no such call.
int cferry_start_writeback(int fd, long long offset, long long length);

/// copy_file_range(2): in-kernel copy (reflinks on file systems that support it).
ssize_t cferry_copy_file_range(int fd_in, long long *off_in, int fd_out, long long *off_out, size_t len);

/// openat2(2) that succeeds only when every path component is already in the kernel's lookup cache
/// (RESOLVE_CACHED): a lookup that would need disk I/O fails with EAGAIN instead of blocking, which makes the call
/// safe on an event loop (io_uring opens inline under the same rule) on a local disk file system. With `jailed` set,
/// `path` must also resolve beneath `dirfd` without following any symlink or crossing a mount point
/// (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV).
/// Returns the descriptor, or -1 with errno set (ENOSYS where the kernel or platform lacks openat2).
int cferry_openat2_cached(int dirfd, const char *path, int flags, int jailed);

/// 1 if `path` is on a local disk or memory file system (ext4, xfs, btrfs, tmpfs, f2fs, zfs), whose opens of
/// cached entries do not wait for a server or a daemon (NFS, FUSE and other network file systems do); 0 otherwise.
int cferry_is_local_disk_file_system(const char *path);

/// malloc_trim(0) where the C library has it (glibc): returns free heap memory to the system. Returns 1 if
/// memory was released, 0 otherwise (always 0 without glibc).
int cferry_malloc_trim(void);

/// A TCP listening socket bound to `address`: non-blocking, close-on-exec, SO_REUSEADDR, listening with `backlog`.
/// Returns the descriptor, or -1 with errno set.
int cferry_listen(const struct sockaddr *address, socklen_t length, int backlog);

/// accept4(2) of one queued connection, returned as a close-on-exec socket (non-blocking if `nonblocking`) with the
/// peer's address in `peer`. -1 with errno EAGAIN when none is queued (the listening socket is non-blocking).
int cferry_accept(int fd, struct sockaddr_storage *peer, int nonblocking);

/// sendfile(2): up to `count` bytes of `in_fd` from `*offset` (advanced) to the socket `out_fd`.
ssize_t cferry_sendfile(int out_fd, int in_fd, long long *offset, size_t count);

/// splice(2) of up to `len` bytes between `fd_in` and `fd_out` at their current positions (one must be a pipe),
/// moving pages where possible (SPLICE_F_MOVE). -1 with errno ENOSYS where there is no splice.
ssize_t cferry_splice(int fd_in, int fd_out, size_t len);

/// pipe2(2) with O_CLOEXEC, its capacity raised to `size` bytes where the system allows (F_SETPIPE_SZ); the
/// default capacity is kept otherwise. 0, or -1 with errno set.
int cferry_pipe(int fds[2], int size);

#endif
