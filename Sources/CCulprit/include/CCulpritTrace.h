// C shims for `culprit trace`: the ptrace requests whose data is a kernel struct Swift would
// have to lay out by hand, reading a tracee's memory, and the signal flags the tracing loop
// polls. Every symbol is prefixed `culprit_trace_`.
#ifndef CCULPRIT_TRACE_H
#define CCULPRIT_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What PTRACE_GET_SYSCALL_INFO (5.3+) says about a tracee in a syscall-stop, flattened:
/// struct ptrace_syscall_info is a tagged union whose layout glibc 2.36's headers do not carry.
typedef struct culprit_trace_syscall_info {
  /// 0 none, 1 entry, 2 exit, 3 seccomp (PTRACE_SYSCALL_INFO_*).
  uint8_t op;
  uint8_t is_error;
  /// AUDIT_ARCH_* of the call.
  uint32_t arch;
  /// Entry and seccomp stops: the call and its six register arguments.
  uint64_t nr;
  uint64_t args[6];
  /// Exit stops: the return value (a negative errno when is_error).
  int64_t rval;
} culprit_trace_syscall_info;

/// PTRACE_GET_SYSCALL_INFO into `out`. Returns the op (≥ 0) or -1 with errno (EIO before 5.3).
int culprit_trace_syscall_info_get(pid_t tid, culprit_trace_syscall_info *_Nonnull out);

/// PTRACE_GETSIGINFO of a tracee in a signal-delivery-stop: the signal, si_code, the sender's
/// pid, and for a seccomp SIGSYS (si_code SYS_SECCOMP) si_syscall and si_errno (the filter's
/// SECCOMP_RET_DATA). Returns 0 or -1 with errno. siginfo_t's union is not visible to Swift.
int culprit_trace_siginfo(pid_t tid, int *_Nonnull signo, int *_Nonnull code, int *_Nonnull sender,
                          int *_Nonnull syscall_nr, int *_Nonnull data);

/// Copies up to `length` bytes at `address` in process `pid` (process_vm_readv, falling back
/// to PTRACE_PEEKDATA where that is refused). Returns the bytes read, or -1 with errno.
long culprit_trace_read_memory(pid_t pid, uint64_t address, void *_Nonnull buffer, size_t length);

/// Installs handlers for SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGALRM that only remember the
/// signal, without SA_RESTART, so that the tracer's blocking waitpid returns EINTR and the loop
/// decides what to do (forward it, end the program, write the report).
int culprit_trace_install_signal_flags(void);

/// The last signal the handlers saw since the previous call, or 0; clears it.
int culprit_trace_take_signal(void);

/// Arms (or with 0 disarms) a one-shot ITIMER_REAL of `milliseconds`: SIGALRM ends a
/// --timeout.
int culprit_trace_alarm(long milliseconds);

/// Remembers the calling thread's CPU affinity (once; later calls keep the first mask).
/// Returns 0 or -1 with errno.
int culprit_trace_affinity_save(void);

/// Moves the calling thread onto `cpu` alone and yields, so that it runs there now: its
/// se.exec_start then comes from that CPU's runqueue clock. Returns 0 when it runs on `cpu`
/// afterwards, -1 with errno when the kernel refused the mask (EINVAL for a CPU outside the
/// cpuset, EPERM from a filter) or it is elsewhere (EAGAIN).
int culprit_trace_run_on_cpu(int cpu);

/// Restores the mask culprit_trace_affinity_save remembered. Returns 0 or -1 with errno.
int culprit_trace_affinity_restore(void);

#ifdef __cplusplus
}
#endif

#endif
