#define _GNU_SOURCE
#include <fcntl.h>
#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>
#include <sys/socket.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif
#ifdef __linux__
#include <sys/syscall.h>
#include <sys/vfs.h>
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif
#endif
#include "CFerrySystem.h"

int cferry_o_path(void) {
#ifdef O_PATH
    return O_PATH;
#else
    return O_RDONLY;
#endif
}

ssize_t cferry_copy_file_range(int fd_in, long long *off_in, int fd_out, long long *off_out, size_t len) {
    loff_t in = off_in ? (loff_t)*off_in : 0;
    loff_t out = off_out ? (loff_t)*off_out : 0;
    ssize_t n = copy_file_range(fd_in, off_in ? &in : NULL, fd_out, off_out ? &out : NULL, len, 0);
    if (off_in) *off_in = in;
    if (off_out) *off_out = out;
    return n;
}

int cferry_start_writeback(int fd, long long offset, long long length) {
#if defined(__linux__)
    return sync_file_range(fd, (off64_t)offset, (off64_t)length, SYNC_FILE_RANGE_WRITE);
#else
    (void)fd; (void)offset; (void)length;
    return 0;
#endif
}

int cferry_openat2_cached(int dirfd, const char *path, int flags, int jailed) {
#if defined(__linux__) && defined(SYS_openat2) && defined(RESOLVE_CACHED)
    struct open_how how = {
        .flags = (unsigned long long)flags,
        .mode = 0,
        .resolve = RESOLVE_CACHED
            | (jailed ? (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) : 0),
    };
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
#else
    (void)dirfd;
    (void)path;
    (void)flags;
    (void)jailed;
    errno = ENOSYS;
    return -1;
#endif
}

int cferry_malloc_trim(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}

int cferry_is_local_disk_file_system(const char *path) {
#ifdef __linux__
    struct statfs info;
    if (statfs(path, &info) != 0) return 0;
    switch ((unsigned long)info.f_type) {
    case 0xEF53UL:      /* ext2/3/4 */
    case 0x58465342UL:  /* xfs */
    case 0x9123683EUL:  /* btrfs */
    case 0x01021994UL:  /* tmpfs */
    case 0xF2F52010UL:  /* f2fs */
    case 0x2FC12FC1UL:  /* zfs */
        return 1;
    default:
        return 0;
    }
#else
    (void)path;
    return 0;
#endif
}

int cferry_listen(const struct sockaddr *address, socklen_t length, int backlog) {
    int fd = socket(address->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 || bind(fd, address, length) != 0
        || listen(fd, backlog) != 0) {
        int error = errno;
        close(fd);
        errno = error;
        return -1;
    }
    return fd;
}

int cferry_accept(int fd, struct sockaddr_storage *peer, int nonblocking) {
    socklen_t length = sizeof(*peer);
    int accepted;
    do {
        accepted = accept4(fd, (struct sockaddr *)peer, &length, SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0));
    } while (accepted < 0 && errno == EINTR);
    return accepted;
}

ssize_t cferry_sendfile(int out_fd, int in_fd, long long *offset, size_t count) {
#ifdef __linux__
    off_t position = (off_t)*offset;
    ssize_t sent = sendfile(out_fd, in_fd, &position, count);
    *offset = (long long)position;
    return sent;
#else
    (void)out_fd;
    (void)in_fd;
    (void)offset;
    (void)count;
    errno = ENOSYS;
    return -1;
#endif
}

ssize_t cferry_splice(int fd_in, int fd_out, size_t len) {
#ifdef __linux__
    return splice(fd_in, NULL, fd_out, NULL, len, SPLICE_F_MOVE);
#else
    (void)fd_in;
    (void)fd_out;
    (void)len;
    errno = ENOSYS;
    return -1;
#endif
}

int cferry_pipe(int fds[2], int size) {
#ifdef __linux__
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    if (size > 0) (void)fcntl(fds[1], F_SETPIPE_SZ, size);
    return 0;
#else
    (void)size;
    return pipe(fds);
#endif
}
