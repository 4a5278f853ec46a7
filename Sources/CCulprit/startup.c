// Process start-up, before the Swift runtime's own initialisers run. Two things in the static
// Swift runtime need /proc at start-up, and both fail where /proc is missing or unreadable (a
// container without /proc, `nsenter -m` without the pid namespace, RLIMIT_NOFILE of 3, a
// seccomp filter refusing openat or readlink):
//   * CommandLine.arguments is found by reading /proc/self/maps (stdlib CommandLine.cpp,
//     ArgvGrabber); where that fails every argument is silently dropped.
//   * the backtracer's initialiser (Backtrace.cpp) looks for swift-backtrace next to the
//     runtime, whose path a static binary only gets from readlink("/proc/self/exe"); where that
//     fails the runtime aborts with "Unable to obtain Swift runtime path".
// glibc hands every .init_array function (argc, argv, envp), so argv is kept here, straight
// from the kernel's initial stack; and when /proc/self/exe cannot be read, SWIFT_BACKTRACE
// names a backtracer path and disables backtracing, so the runtime never asks for its path.
// A third: the Swift runtime instantiates type metadata on the main stack in frames some tens
// of KiB deep (swift_getTypeByMangledName under ArgumentParser's Mirror use), so a stack limit
// of 64 KiB or less (`ulimit -s 48`) ends in SIGSEGV before main. The soft limit is raised
// here, where the hard limit allows, to what culprit needs (the kernel checks RLIMIT_STACK
// whenever the main stack grows, so this takes effect at once); where the hard limit does not
// allow enough, culprit says so and exits 3 instead of crashing.
// Priority 101 runs this before the runtime's default-priority initialisers.
#define _GNU_SOURCE
#include "CCulprit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int culprit_saved_argc = -1;
static char **culprit_saved_argv;
static int culprit_saved_exe_errno;
static unsigned long culprit_saved_stack_limit;

/// What culprit raises a smaller soft stack limit to, and the least it runs with.
#define CULPRIT_STACK_WANTED (1024UL * 1024UL)
#define CULPRIT_STACK_NEEDED (256UL * 1024UL)

static void culprit_say(const char *text) {
  size_t length = strlen(text);
  while (length > 0) {
    ssize_t n = write(2, text, length);
    if (n <= 0) {
      return;
    }
    text += n;
    length -= (size_t)n;
  }
}

static void culprit_ensure_stack(void) {
  struct rlimit limit;
  if (getrlimit(RLIMIT_STACK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY ||
      limit.rlim_cur >= CULPRIT_STACK_WANTED) {
    return;
  }
  culprit_saved_stack_limit = (unsigned long)limit.rlim_cur;
  rlim_t wanted = CULPRIT_STACK_WANTED;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted) {
    wanted = limit.rlim_max;
  }
  if (wanted > limit.rlim_cur) {
    struct rlimit raised = {wanted, limit.rlim_max};
    if (setrlimit(RLIMIT_STACK, &raised) == 0) {
      limit.rlim_cur = wanted;
    }
  }
  if (limit.rlim_cur < CULPRIT_STACK_NEEDED) {
    char message[400];
    snprintf(message, sizeof(message),
             "culprit: error: the stack limit (RLIMIT_STACK, ulimit -s) is %lu KiB and its hard limit "
             "allows no more than %lu KiB; culprit needs %lu KiB (the Swift runtime alone needs more "
             "than 64 KiB at start-up). Run it with a larger limit, e.g. ulimit -s 8192.\n",
             culprit_saved_stack_limit / 1024, (unsigned long)limit.rlim_cur / 1024,
             CULPRIT_STACK_NEEDED / 1024);
    culprit_say(message);
    _exit(3);
  }
}

__attribute__((constructor(101))) static void culprit_startup(int argc, char **argv, char **envp) {
  (void)envp;
  culprit_ensure_stack();
  if (argv != NULL && argc >= 0) {
    culprit_saved_argc = argc;
    culprit_saved_argv = argv;
  }
  char buffer[16];
  if (readlink("/proc/self/exe", buffer, sizeof(buffer)) < 0) {
    culprit_saved_exe_errno = errno;
    setenv("SWIFT_BACKTRACE", "enable=no,warnings=suppressed,swift-backtrace=/culprit-no-proc-self-exe", 1);
  }
}

int culprit_startup_argc(void) { return culprit_saved_argc; }

char *const *culprit_startup_argv(void) { return culprit_saved_argv; }

int culprit_startup_exe_errno(void) { return culprit_saved_exe_errno; }

unsigned long culprit_startup_stack_limit(void) { return culprit_saved_stack_limit; }
