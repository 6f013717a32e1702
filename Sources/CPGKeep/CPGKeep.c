#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <time.h>
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

static long long pgkeep_last_progress = 0;

long long pgkeep_monotonic_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void pgkeep_progress_tick(void) {
    __atomic_store_n(&pgkeep_last_progress, pgkeep_monotonic_ms(), __ATOMIC_RELAXED);
}

long long pgkeep_progress_last(void) {
    return __atomic_load_n(&pgkeep_last_progress, __ATOMIC_RELAXED);
}

#include <sys/vfs.h>

int pgkeep_is_fuse(const char *path) {
    struct statfs fs;
    if (statfs(path, &fs) != 0) return -1;
    return fs.f_type == 0x65735546 ? 1 : 0; /* FUSE_SUPER_MAGIC */
}
