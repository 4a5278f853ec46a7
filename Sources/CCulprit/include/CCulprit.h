// C shims for what Swift cannot call directly. Each says why it exists.
// Every symbol is prefixed `culprit_`. _GNU_SOURCE is defined in shims.c, never here.
#ifndef CCULPRIT_H
#define CCULPRIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <seccomp.h>
#include "CCulpritOracle.h"

#ifdef __cplusplus
extern "C" {
#endif

// MARK: Start-up (startup.c)

/// The argc and argv glibc handed the process's initialisers, before anything ran: -1 and NULL
/// when none were handed. The Swift runtime's CommandLine.arguments reads /proc/self/maps to
/// find them and is empty where /proc cannot be read.
int culprit_startup_argc(void);
char *_Nullable const *_Nullable culprit_startup_argv(void);
/// The errno of readlink("/proc/self/exe") at start-up (0 when it worked); when it failed,
/// Swift's backtracer was turned off before the runtime could abort on it.
int culprit_startup_exe_errno(void);
/// The soft RLIMIT_STACK culprit was started with when it was below what culprit needs (and was
/// raised), 0 when it was large enough.
unsigned long culprit_startup_stack_limit(void);
/// Forks a canary that makes each call culprit's own process makes during a run (queries and
/// no-ops). Returns the index of the call a seccomp filter killed it in, or -1 when none did
/// (or the canary could not be run); `culprit_own_call_name` names it.
int culprit_check_own_calls(void);
const char *_Nonnull culprit_own_call_name(int index);

// MARK: Raw system calls

/// syscall(2) is variadic; Swift cannot call it. Returns the raw result; errno is set on -1.
long culprit_syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

/// clone3(args, size). If the kernel unexpectedly creates a child, the child calls _exit(0) at
/// once so that it never returns into Swift. Returns -1 with errno, or the child's pid.
long culprit_clone3(void *_Nullable args, size_t size);

/// Legacy clone(flags, 0, 0, 0, 0) with the same guarantee as culprit_clone3.
long culprit_clone_legacy(unsigned long flags);

/// ptrace(2) is variadic in glibc.
long culprit_ptrace(int request, pid_t pid, void *_Nullable addr, void *_Nullable data);

/// prctl(2) is variadic.
int culprit_prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4,
                  unsigned long arg5);

/// The kernel's system call number for this architecture, used to name the architecture's
/// numbering (x86_64: 1, aarch64: 2, other: 0).
int culprit_arch_family(void);

/// GNU functions that glibc declares only under _GNU_SOURCE, which Swift's Glibc module does
/// not define: ppoll(2), pipe2(2), memmem(3); and statfs(2), whose header the module lacks.
struct pollfd;
int culprit_ppoll(struct pollfd *_Nonnull fds, unsigned long count, long timeout_ns);
int culprit_pipe2(int fds[_Nonnull 2], int flags);
long culprit_memmem(const void *_Nonnull haystack, size_t haystack_length, const void *_Nonnull needle,
                    size_t needle_length);
/// statfs(path).f_type, or -1 with errno.
long culprit_statfs_type(const char *_Nonnull path);

// MARK: Threads

/// Creates one thread that runs `body(context)`, joins it, and returns pthread_create's result
/// (0, or an error number such as EPERM or EAGAIN). The C entry point exists because the thread's
/// start routine must be a C function pointer.
int culprit_run_in_thread(void (*_Nonnull body)(void *_Nullable), void *_Nullable context);

// MARK: Signals, for the single-threaded runner

/// Installs a handler for SIGCHLD that does nothing, so that ppoll(2) with SIGCHLD unblocked is
/// woken by a child's exit. (With the default disposition SIGCHLD is discarded and wakes nothing.)
/// With `wake_on_stops` the handler is installed without SA_NOCLDSTOP, so that a tracee's
/// ptrace-stop also sends SIGCHLD: for a probe child that waits for a tracee to stop.
int culprit_install_sigchld_wakeup(int wake_on_stops);

/// A page shared between a probe's child and the runner (MAP_SHARED | MAP_ANONYMOUS), written by
/// the child and read by the parent after the child ends, whatever way it ended.
typedef struct culprit_shared_page {
  /// 1 once a SIGSYS with si_code SYS_SECCOMP (a seccomp TRAP) was caught.
  volatile int32_t trapped;
  /// si_syscall of that SIGSYS.
  volatile int32_t trap_syscall;
  /// si_errno of that SIGSYS: the filter's SECCOMP_RET_DATA.
  volatile int32_t trap_data;
  /// si_arch of that SIGSYS (an AUDIT_ARCH_* value).
  volatile uint32_t trap_arch;
  /// Bytes used in `step`.
  volatile uint32_t step_length;
  /// The child's last announced step ("ptrace(PTRACE_SEIZE, 1234)"), UTF-8.
  char step[492];
  /// Free space for a probe's own use (the syscall sweep keeps its position here).
  volatile int64_t scratch[64];
  /// A call culprit itself needs that failed in this child or one of its own children: its
  /// errno (0: none) and its name. The first one is kept.
  volatile int32_t plumbing_errno;
  char plumbing_call[28];
  /// The errno of installing the child's SIGSYS recorder (0: installed), without which a
  /// seccomp TRAP cannot be told from a KILL.
  volatile int32_t recorder_errno;
  /// 1 once `output_length` bytes of the child's result are in `output`: written last, just
  /// before the child exits.
  volatile int32_t output_done;
  volatile uint64_t output_length;
  /// Capacity of the output area that follows this header in the same mapping.
  uint64_t output_capacity;
} culprit_shared_page;

/// Maps a new zeroed shared page followed by `output_capacity` bytes for the child's result
/// (MAP_NORESERVE: only the pages written use memory). No file descriptor is involved, so a
/// low RLIMIT_NOFILE cannot stop a probe from reporting. NULL with errno on failure.
culprit_shared_page *_Nullable culprit_shared_page_create(size_t output_capacity);
void culprit_shared_page_destroy(culprit_shared_page *_Nonnull page);
/// Whether child `pid` has ended, without reaping it: waitid(P_PID, WEXITED | WNOHANG |
/// WNOWAIT), whose siginfo_t Swift cannot read portably. 1 ended, 0 running, -errno on failure.
int culprit_child_has_ended(pid_t pid);
/// The output area of a shared page.
unsigned char *_Nonnull culprit_shared_page_output(culprit_shared_page *_Nonnull page);

// MARK: Termination (SIGTERM, SIGINT, SIGHUP) for the runner

/// Installs a handler for SIGTERM, SIGINT and SIGHUP that only records the signal, so that the
/// runner can end its probe processes and remove what they made before it exits. Returns 0 or
/// -1 with errno.
int culprit_install_termination_recorder(void);
/// The termination signal received so far (0: none).
int culprit_termination_signal(void);
/// Restores the signal's default disposition and sends it to this process, so that culprit
/// ends as the signal would have ended it.
void culprit_die_of(int signo);

/// Arms a SIGTERM handler in a probe child that removes `count` entries of `directory`, then
/// the directory, and exits: the child's parent-death signal is then SIGTERM, so a node the
/// child made is removed even when culprit itself is killed. The paths are copied into static
/// storage (a handler may only make async-signal-safe calls). Returns 0 or -1 with errno.
int culprit_arm_removal(const char *_Nonnull directory, const char *_Nonnull const *_Nonnull names, int count);
/// Disarms it (the child removed everything itself).
void culprit_disarm_removal(void);

/// Installs a SIGSYS handler (SA_SIGINFO) that records a seccomp TRAP in `page` and calls
/// _exit(exit_code). Handlers cannot be written in Swift: they must be async-signal-safe.
int culprit_install_sigsys_recorder(culprit_shared_page *_Nonnull page, int exit_code);

/// Installs a SIGSYS handler that records a seccomp TRAP in `page` and returns, so that the
/// interrupted call returns and the caller can continue. The call's return value is then
/// whatever the kernel left in the return register (on x86_64 the syscall number itself, since
/// the kernel rolls the registers back for the handler), so callers must tell a TRAP by the
/// page's count, never by the return value. Used by the syscall sweep.
int culprit_install_sigsys_counter(culprit_shared_page *_Nonnull page);

/// Restores SIGSYS, SIGCHLD and the crash signals to their default dispositions and unblocks
/// every signal; called first thing in a forked child.
void culprit_reset_signals_in_child(void);

// MARK: Threads and names (thread and getaddrinfo probes)

/// The version of the C library culprit itself was linked with: gnu_get_libc_version() for
/// glibc, NULL for musl (which has no such call). A static culprit carries its own libc, so its
/// pthread_create behaves as that libc's does, whatever the image holds.
const char *_Nullable culprit_own_libc_version(void);

// MARK: libseccomp constants that are function-like or composed macros

/// Exports the BPF program of a libseccomp filter into a malloc'd buffer (`*program`, `*length`
/// bytes; free it with free(3)). libseccomp 2.5 can only export to a file descriptor, so this
/// goes through a memfd. Returns 0, or a negative errno.
int culprit_seccomp_export(scmp_filter_ctx _Nonnull context, void *_Nullable *_Nonnull program,
                           size_t *_Nonnull length);

/// Installs a classic-BPF seccomp program (`count` instructions of struct sock_filter) on the
/// calling thread with seccomp(SECCOMP_SET_MODE_FILTER, flags), or with prctl(PR_SET_SECCOMP) on
/// kernels before 3.17 when flags is 0. sock_fprog is a struct with a pointer that Swift would
/// have to build by hand. Returns 0 (or a listener fd) or -1 with errno.
int culprit_seccomp_install(const void *_Nonnull instructions, unsigned short count, unsigned int flags);

uint32_t culprit_scmp_act_errno(uint16_t errno_value);
uint32_t culprit_scmp_act_trace(uint16_t message);
uint32_t culprit_scmp_arch_native(void);
uint32_t culprit_scmp_arch_x86_64(void);
uint32_t culprit_scmp_arch_x86(void);
uint32_t culprit_scmp_arch_x32(void);
uint32_t culprit_scmp_arch_aarch64(void);
uint32_t culprit_scmp_arch_arm(void);

#ifdef __cplusplus
}
#endif

#include "CCulpritTrace.h"

#endif
