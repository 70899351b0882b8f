// Linux calls that Glibc's Swift overlay hides behind _GNU_SOURCE.
#ifndef C_FERRY_SYSTEM_H
#define C_FERRY_SYSTEM_H

#include <sys/types.h>

/// open(2) flag O_PATH: a handle for walking and fstat, never reading.
int cferry_o_path(void);

/// copy_file_range(2): in-kernel copy (reflinks on file systems that support it).
ssize_t cferry_copy_file_range(int fd_in, long long *off_in, int fd_out, long long *off_out, size_t len);

#endif
