#define _GNU_SOURCE
#include "CCulpritTrace.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <sys/uio.h>

#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO 0x420e
#endif
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

#include <sys/syscall.h>
#include <unistd.h>

// The kernel's struct ptrace_syscall_info (include/uapi/linux/ptrace.h, 5.3+), spelled out so
// that older headers build it too.
struct culprit_kernel_syscall_info {
  uint8_t op;
  uint8_t pad[3];
  uint32_t arch;
  uint64_t instruction_pointer;
  uint64_t stack_pointer;
  union {
    struct { uint64_t nr; uint64_t args[6]; } entry;
    struct { int64_t rval; uint8_t is_error; } exit;
    struct { uint64_t nr; uint64_t args[6]; uint32_t ret_data; } seccomp;
  } u;
};

int culprit_trace_syscall_info_get(pid_t tid, culprit_trace_syscall_info *out) {
  struct culprit_kernel_syscall_info info;
  memset(&info, 0, sizeof info);
  long rc = syscall(SYS_ptrace, PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof info, &info);
  if (rc < 0) {
    return -1;
  }
  memset(out, 0, sizeof *out);
  out->op = info.op;
  out->arch = info.arch;
  if (info.op == 1 || info.op == 3) {
    out->nr = info.u.entry.nr;
    memcpy(out->args, info.u.entry.args, sizeof out->args);
  } else if (info.op == 2) {
    out->rval = info.u.exit.rval;
    out->is_error = info.u.exit.is_error;
  }
  return info.op;
}

int culprit_trace_siginfo(pid_t tid, int *signo, int *code, int *sender, int *syscall_nr, int *data) {
  siginfo_t info;
  memset(&info, 0, sizeof info);
  if (syscall(SYS_ptrace, 0x4202 /* PTRACE_GETSIGINFO */, tid, 0, &info) < 0) {
    return -1;
  }
  *signo = info.si_signo;
  *code = info.si_code;
  *sender = info.si_pid;
  *syscall_nr = -1;
  *data = 0;
  if (info.si_signo == SIGSYS && info.si_code == SYS_SECCOMP) {
    *syscall_nr = info.si_syscall;
    *data = info.si_errno;
    *sender = 0;
  }
  return 0;
}

long culprit_trace_read_memory(pid_t pid, uint64_t address, void *buffer, size_t length) {
  struct iovec local = {buffer, length};
  struct iovec remote = {(void *)(uintptr_t)address, length};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n >= 0) {
    return n;
  }
  // process_vm_readv may be filtered or absent; a tracer can always peek.
  size_t done = 0;
  while (done < length) {
    long word = 0;
    // The raw syscall stores the word through the data pointer and returns 0.
    if (syscall(SYS_ptrace, 2 /* PTRACE_PEEKDATA */, pid, (void *)(uintptr_t)(address + done), &word) < 0) {
      break;
    }
    size_t take = length - done < sizeof word ? length - done : sizeof word;
    memcpy((char *)buffer + done, &word, take);
    done += take;
  }
  return done > 0 ? (long)done : -1;
}

static volatile sig_atomic_t culprit_trace_signal;

static void culprit_trace_remember(int signo) { culprit_trace_signal = signo; }

int culprit_trace_install_signal_flags(void) {
  static const int signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGALRM};
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = culprit_trace_remember;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: waitpid returns EINTR
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
    if (sigaction(signals[i], &action, NULL) != 0) {
      return -1;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
    sigaddset(&set, signals[i]);
  }
  return sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int culprit_trace_take_signal(void) {
  int signo = culprit_trace_signal;
  culprit_trace_signal = 0;
  return signo;
}

int culprit_trace_alarm(long milliseconds) {
  struct itimerval timer;
  memset(&timer, 0, sizeof timer);
  timer.it_value.tv_sec = milliseconds / 1000;
  timer.it_value.tv_usec = (milliseconds % 1000) * 1000;
  return setitimer(ITIMER_REAL, &timer, NULL);
}

static cpu_set_t culprit_saved_affinity;
static int culprit_affinity_saved;

int culprit_trace_affinity_save(void) {
  if (culprit_affinity_saved) return 0;
  CPU_ZERO(&culprit_saved_affinity);
  if (sched_getaffinity(0, sizeof culprit_saved_affinity, &culprit_saved_affinity) != 0) return -1;
  culprit_affinity_saved = 1;
  return 0;
}

int culprit_trace_run_on_cpu(int cpu) {
  if (cpu < 0 || cpu >= CPU_SETSIZE) { errno = EINVAL; return -1; }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) return -1;
  // The migration (or the yield on the same CPU) updates the running task's exec_start from
  // this CPU's clock.
  sched_yield();
  if (sched_getcpu() != cpu) { errno = EAGAIN; return -1; }
  return 0;
}

int culprit_trace_affinity_restore(void) {
  if (!culprit_affinity_saved) return 0;
  return sched_setaffinity(0, sizeof culprit_saved_affinity, &culprit_saved_affinity);
}
