#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>

#include "CPGKeep.h"

int pgkeep_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int pgkeep_spawn_closefrom(posix_spawn_file_actions_t *actions, int lowfd) {
    return posix_spawn_file_actions_addclosefrom_np(actions, lowfd);
}

void *pgkeep_memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen) {
    return memmem(haystack, haystacklen, needle, needlelen);
}

void *pgkeep_memrchr(const void *s, int c, size_t n) {
    return memrchr(s, c, n);
}
