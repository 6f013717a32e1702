#ifndef CPGKEEP_H
#define CPGKEEP_H

#include <spawn.h>
#include <stddef.h>

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, so a child spawned by another
/// thread at the same moment never inherits them (glibc exports pipe2 only with _GNU_SOURCE).
int pgkeep_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor from `lowfd` up.
int pgkeep_spawn_closefrom(posix_spawn_file_actions_t *actions, int lowfd);

/// memmem and memrchr (GNU extensions, also not exported without _GNU_SOURCE), for scanning
/// COPY data in a restore script.
void *pgkeep_memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);
void *pgkeep_memrchr(const void *s, int c, size_t n);

/// The watchdog's progress clock: every byte pgkeep moves between a tool, a file and the server
/// calls `pgkeep_progress_tick` (a relaxed atomic store of CLOCK_MONOTONIC's milliseconds, cheap
/// enough for every chunk); the watchdog reads it with `pgkeep_progress_last`. Milliseconds.
void pgkeep_progress_tick(void);
long long pgkeep_progress_last(void);
long long pgkeep_monotonic_ms(void);

/// 1 if `path` is on a FUSE mount (statfs's f_type), 0 if not, -1 if statfs fails.
int pgkeep_is_fuse(const char *path);

#endif
