#define _GNU_SOURCE
#include "CCulprit.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

long culprit_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
  return syscall(number, a1, a2, a3, a4, a5, a6);
}

long culprit_clone3(void *args, size_t size) {
  long ret = syscall(SYS_clone3, args, size);
  if (ret == 0) {
    _exit(0);
  }
  return ret;
}

long culprit_clone_legacy(unsigned long flags) {
  // The raw x86_64 and generic argument order is (flags, stack, parent_tid, child_tid, tls);
  // with every pointer zero both orders agree.
  long ret = syscall(SYS_clone, flags, 0L, 0L, 0L, 0L);
  if (ret == 0) {
    _exit(0);
  }
  return ret;
}

long culprit_ptrace(int request, pid_t pid, void *addr, void *data) {
  return ptrace((enum __ptrace_request)request, pid, addr, data);
}

int culprit_prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
                  unsigned long arg5) {
  return prctl(option, arg2, arg3, arg4, arg5);
}

int culprit_arch_family(void) {
#if defined(__x86_64__)
  return 1;
#elif defined(__aarch64__)
  return 2;
#else
  return 0;
#endif
}

int culprit_ppoll(struct pollfd *fds, unsigned long count, long timeout_ns) {
  struct timespec timeout = {timeout_ns / 1000000000L, timeout_ns % 1000000000L};
  sigset_t none;
  sigemptyset(&none);
  return ppoll(fds, count, timeout_ns < 0 ? NULL : &timeout, &none);
}

int culprit_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }

long culprit_memmem(const void *haystack, size_t haystack_length, const void *needle,
                    size_t needle_length) {
  const char *found = memmem(haystack, haystack_length, needle, needle_length);
  return found == NULL ? -1 : (long)(found - (const char *)haystack);
}

long culprit_statfs_type(const char *path) {
  struct statfs buffer;
  if (statfs(path, &buffer) != 0) {
    return -1;
  }
  return (long)buffer.f_type;
}

struct culprit_thread_start {
  void (*body)(void *);
  void *context;
};

static void *culprit_thread_main(void *raw) {
  struct culprit_thread_start *start = raw;
  start->body(start->context);
  return NULL;
}

int culprit_run_in_thread(void (*body)(void *), void *context) {
  struct culprit_thread_start start = {body, context};
  pthread_t thread;
  int err = pthread_create(&thread, NULL, culprit_thread_main, &start);
  if (err != 0) {
    return err;
  }
  pthread_join(thread, NULL);
  return 0;
}

static void culprit_sigchld_noop(int signo) { (void)signo; }

int culprit_install_sigchld_wakeup(int wake_on_stops) {
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = culprit_sigchld_noop;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | (wake_on_stops ? 0 : SA_NOCLDSTOP);
  return sigaction(SIGCHLD, &action, NULL);
}

culprit_shared_page *culprit_shared_page_create(size_t output_capacity) {
  size_t size = sizeof(culprit_shared_page) + output_capacity;
  culprit_shared_page *page = mmap(NULL, size, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (page == MAP_FAILED) {
    return NULL;
  }
  // A fresh anonymous mapping is zero already; only the capacity is set.
  page->output_capacity = output_capacity;
  return page;
}

void culprit_shared_page_destroy(culprit_shared_page *page) {
  munmap(page, sizeof(culprit_shared_page) + page->output_capacity);
}

int culprit_child_has_ended(pid_t pid) {
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return -errno;
  }
  return info.si_pid != 0 ? 1 : 0;
}

unsigned char *culprit_shared_page_output(culprit_shared_page *page) {
  return (unsigned char *)page + sizeof(culprit_shared_page);
}

static volatile sig_atomic_t culprit_received_termination;

static void culprit_record_termination(int signo) {
  if (culprit_received_termination == 0) {
    culprit_received_termination = signo;
  }
}

int culprit_install_termination_recorder(void) {
  static const int signals[] = {SIGTERM, SIGINT, SIGHUP};
  for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = culprit_record_termination;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    if (sigaction(signals[i], &action, NULL) != 0) {
      return -1;
    }
  }
  return 0;
}

int culprit_termination_signal(void) { return culprit_received_termination; }

void culprit_die_of(int signo) {
  signal(signo, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, signo);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  raise(signo);
  _exit(128 + signo);
}

#define CULPRIT_REMOVAL_MAX 8
static char culprit_removal_directory[4096];
static char culprit_removal_paths[CULPRIT_REMOVAL_MAX][4096 + 64];
static volatile int culprit_removal_count = -1;

static void culprit_remove_and_exit(int signo) {
  (void)signo;
  int count = culprit_removal_count;
  for (int i = 0; i < count; i++) {
    unlink(culprit_removal_paths[i]);
  }
  if (count >= 0) {
    rmdir(culprit_removal_directory);
  }
  _exit(128 + SIGTERM);
}

int culprit_arm_removal(const char *directory, const char *const *names, int count) {
  if (count < 0 || count > CULPRIT_REMOVAL_MAX || strlen(directory) >= sizeof(culprit_removal_directory)) {
    errno = EINVAL;
    return -1;
  }
  culprit_removal_count = -1;
  strcpy(culprit_removal_directory, directory);
  for (int i = 0; i < count; i++) {
    if (strlen(names[i]) >= 64) {
      errno = EINVAL;
      return -1;
    }
    strcpy(culprit_removal_paths[i], directory);
    strcat(culprit_removal_paths[i], "/");
    strcat(culprit_removal_paths[i], names[i]);
  }
  culprit_removal_count = count;
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = culprit_remove_and_exit;
  sigfillset(&action.sa_mask);
  if (sigaction(SIGTERM, &action, NULL) != 0) {
    return -1;
  }
  return prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
}

void culprit_disarm_removal(void) {
  culprit_removal_count = -1;
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  signal(SIGTERM, SIG_DFL);
}

static culprit_shared_page *volatile culprit_trap_page;
static volatile int culprit_trap_exit_code;

static void culprit_record_trap(const siginfo_t *info) {
  culprit_shared_page *page = culprit_trap_page;
  if (page == NULL || info->si_code != SYS_SECCOMP) {
    return;
  }
  page->trap_syscall = info->si_syscall;
  page->trap_data = info->si_errno;
  page->trap_arch = info->si_arch;
  page->trapped += 1;
}

static void culprit_sigsys_exit(int signo, siginfo_t *info, void *ucontext) {
  (void)signo;
  (void)ucontext;
  culprit_record_trap(info);
  _exit(culprit_trap_exit_code);
}

static void culprit_sigsys_return(int signo, siginfo_t *info, void *ucontext) {
  (void)signo;
  (void)ucontext;
  culprit_record_trap(info);
}

static int culprit_install_sigsys(void (*handler)(int, siginfo_t *, void *)) {
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_sigaction = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_SIGINFO;
  return sigaction(SIGSYS, &action, NULL);
}

int culprit_install_sigsys_recorder(culprit_shared_page *page, int exit_code) {
  culprit_trap_page = page;
  culprit_trap_exit_code = exit_code;
  return culprit_install_sigsys(culprit_sigsys_exit);
}

int culprit_install_sigsys_counter(culprit_shared_page *page) {
  culprit_trap_page = page;
  return culprit_install_sigsys(culprit_sigsys_return);
}

void culprit_reset_signals_in_child(void) {
  // The Swift runtime's crash handlers print a backtrace to the terminal; in a probe child a
  // crash is reported by the parent from the wait status instead.
  static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
  for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++) {
    signal(crash_signals[i], SIG_DFL);
  }
  signal(SIGSYS, SIG_DFL);
  signal(SIGCHLD, SIG_DFL);
  // The runner's termination recorder is the runner's: a probe child ends at once.
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

const char *culprit_own_libc_version(void) {
#if defined(__GLIBC__)
  return gnu_get_libc_version();
#else
  return NULL;
#endif
}

uint32_t culprit_scmp_act_errno(uint16_t errno_value) { return SCMP_ACT_ERRNO(errno_value); }
uint32_t culprit_scmp_act_trace(uint16_t message) { return SCMP_ACT_TRACE(message); }
uint32_t culprit_scmp_arch_native(void) { return SCMP_ARCH_NATIVE; }
uint32_t culprit_scmp_arch_x86_64(void) { return SCMP_ARCH_X86_64; }
uint32_t culprit_scmp_arch_x86(void) { return SCMP_ARCH_X86; }
uint32_t culprit_scmp_arch_x32(void) { return SCMP_ARCH_X32; }
uint32_t culprit_scmp_arch_aarch64(void) { return SCMP_ARCH_AARCH64; }
uint32_t culprit_scmp_arch_arm(void) { return SCMP_ARCH_ARM; }

int culprit_seccomp_export(scmp_filter_ctx context, void **program, size_t *length) {
  *program = NULL;
  *length = 0;
  int fd = memfd_create("culprit-bpf", MFD_CLOEXEC);
  if (fd < 0) {
    return -errno;
  }
  int rc = seccomp_export_bpf(context, fd);
  if (rc != 0) {
    close(fd);
    return rc;
  }
  off_t size = lseek(fd, 0, SEEK_END);
  if (size < 0 || lseek(fd, 0, SEEK_SET) != 0) {
    rc = -errno;
    close(fd);
    return rc;
  }
  char *buffer = malloc(size > 0 ? (size_t)size : 1);
  if (buffer == NULL) {
    close(fd);
    return -ENOMEM;
  }
  size_t done = 0;
  while (done < (size_t)size) {
    ssize_t n = read(fd, buffer + done, (size_t)size - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      rc = n < 0 ? -errno : -EIO;
      free(buffer);
      close(fd);
      return rc;
    }
    done += (size_t)n;
  }
  close(fd);
  *program = buffer;
  *length = done;
  return 0;
}

int culprit_seccomp_install(const void *instructions, unsigned short count, unsigned int flags) {
  struct sock_fprog program = {count, (struct sock_filter *)instructions};
  long rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &program);
  if (rc < 0 && errno == ENOSYS && flags == 0) {
    rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0);
  }
  return (int)rc;
}
