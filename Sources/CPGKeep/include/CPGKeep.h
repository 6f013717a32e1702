#ifndef CPGKEEP_H
#define CPGKEEP_H

#include <spawn.h>

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start, so a child spawned by another
/// thread at the same moment never inherits them (glibc exports pipe2 only with _GNU_SOURCE).
int pgkeep_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor from `lowfd` up.
int pgkeep_spawn_closefrom(posix_spawn_file_actions_t *actions, int lowfd);

#endif
