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
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
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

// A canary for culprit's own process: a forked child makes, harmlessly, each call culprit's
// own (single, unprotected) process makes during a run, and records which one it is about to
// make on a shared page. A seccomp KILL on one of them ends the canary, not culprit, which can
// then say which call it is instead of dying silently of SIGSYS halfway through a run.
static const char *const culprit_own_calls[] = {
    "rt_sigaction", "rt_sigprocmask", "getpid", "kill", "wait4", "ppoll", "prctl", "setpgid",
    "openat", "newfstatat", "read", "close", "mmap", "munmap", "write", "statfs", "pread64",
    "ioctl", "uname", "readlink", "getuid", "geteuid", "getgid", "getegid",
};

int culprit_check_own_calls(void) {
  volatile int *step = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (step == MAP_FAILED) {
    return -1;
  }
  *step = -1;
  pid_t pid = fork();
  if (pid < 0) {
    munmap((void *)step, 4096);
    return -1;
  }
  if (pid == 0) {
    struct sigaction old_action;
    sigset_t old_mask;
    struct timespec zero = {0, 0};
    int value = 0;
    *step = 0;
    sigaction(SIGPIPE, NULL, &old_action);
    *step = 1;
    sigprocmask(SIG_BLOCK, NULL, &old_mask);
    *step = 2;
    pid_t me = getpid();
    *step = 3;
    kill(me, 0);
    *step = 4;
    wait4(-1, NULL, WNOHANG, NULL);
    *step = 5;
    ppoll(NULL, 0, &zero, NULL);
    *step = 6;
    prctl(PR_GET_CHILD_SUBREAPER, &value, 0, 0, 0);
    *step = 7;
    setpgid(0, 0);
    *step = 8;
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    *step = 9;
    struct stat st;
    fstat(fd, &st);
    *step = 10;
    char byte;
    (void)!read(fd, &byte, 0);
    *step = 11;
    close(fd);
    *step = 12;
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *step = 13;
    if (page != MAP_FAILED) {
      munmap(page, 4096);
    }
    *step = 14;
    (void)!write(2, "", 0);
    *step = 15;
    struct statfs fs;
    statfs("/", &fs);
    *step = 16;
    (void)!pread(-1, &byte, 0, 0);
    *step = 17;
    struct winsize size;
    ioctl(-1, TIOCGWINSZ, &size);
    *step = 18;
    struct utsname names;
    uname(&names);
    *step = 19;
    char link[8];
    (void)!readlink("/", link, sizeof(link));
    *step = 20;
    (void)getuid();
    *step = 21;
    (void)geteuid();
    *step = 22;
    (void)getgid();
    *step = 23;
    (void)getegid();
    *step = 24;
    _exit(0);
  }
  // waitid, not wait4: wait4 is one of the calls the canary checks. Bounded (1 s): a call
  // held by an outer USER_NOTIF agent that never answers must not hang culprit before its
  // --timeout even starts; such a canary is killed and nothing is concluded.
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  struct timespec pause = {0, 1000000};
  for (int waited = 0;; waited++) {
    int rc = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG);
    if (rc == 0 && info.si_pid != 0) {
      break;
    }
    if (rc < 0 && errno != EINTR) {
      munmap((void *)step, 4096);
      return -1;
    }
    if (waited >= 1000) {
      kill(pid, SIGKILL);
      while (waitid(P_PID, (id_t)pid, &info, WEXITED) < 0 && errno == EINTR) {
      }
      munmap((void *)step, 4096);
      return -1;
    }
    nanosleep(&pause, NULL);
  }
  int reached = *step;
  munmap((void *)step, 4096);
  if (info.si_code != CLD_EXITED && info.si_status == SIGSYS && reached >= 0 &&
      reached < (int)(sizeof(culprit_own_calls) / sizeof(culprit_own_calls[0]))) {
    return reached;
  }
  return -1;
}

const char *culprit_own_call_name(int index) { return culprit_own_calls[index]; }
