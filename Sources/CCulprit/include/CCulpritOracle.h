// The exact seccomp oracle (field-facts §12): asks the filters a process runs under what they
// do with a system call and its exact register arguments, without executing it.
// Included by CCulprit.h. Every symbol is prefixed `culprit_`.
#ifndef CCULPRIT_ORACLE_H
#define CCULPRIT_ORACLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Makes system call `number` with the six register arguments `args`, from one fixed syscall
/// instruction that the oracle's filter recognises by its address (seccomp_data's
/// instruction_pointer), so that the process's other calls are never sent to the listener.
/// Returns the raw kernel result: a value, or -errno. In assembly: C cannot name the address
/// of its own syscall instruction.
long culprit_oracle_call(long number, const uint64_t args[_Nonnull 6]);

/// In the oracle's child: sets no_new_privs (ignoring a refusal, which only matters without
/// CAP_SYS_ADMIN), installs a filter that answers every call made by culprit_oracle_call on the
/// native architecture with SECCOMP_RET_USER_NOTIF (everything else: ALLOW), with
/// SECCOMP_FILTER_FLAG_NEW_LISTENER, and sends the listener fd over the Unix socket `socket`
/// (SCM_RIGHTS). sock_fprog, the BPF program and the CMSG macros are not reachable from Swift.
/// Returns 0, or -errno with `*failed_step` set: 1 prctl(PR_SET_NO_NEW_PRIVS) (only reported
/// when seccomp then failed with EACCES), 2 seccomp(SECCOMP_SET_MODE_FILTER,
/// SECCOMP_FILTER_FLAG_NEW_LISTENER), 3 sendmsg.
int culprit_oracle_install(int socket, int *_Nonnull failed_step);

/// The oracle filter's BPF program (for tests and the user-space interpreter): `*count`
/// instructions of struct sock_filter are written to `out` (room for 16).
void culprit_oracle_program(void *_Nonnull out, unsigned short *_Nonnull count);

/// The addresses of the replay's syscall instruction and of the one after it, which the
/// filter matches (for tests of the filter program).
void culprit_oracle_call_addresses(uint64_t *_Nonnull site, uint64_t *_Nonnull after);

/// Receives one file descriptor sent with SCM_RIGHTS on `socket` (the CMSG macros are not
/// reachable from Swift). Returns it (close-on-exec), -ENODATA when the peer closed the socket
/// without sending one, or -errno.
int culprit_oracle_receive_fd(int socket);

/// One notification from the oracle's listener (struct seccomp_notif).
typedef struct culprit_oracle_notification {
  uint64_t id;
  uint32_t pid;
  int32_t nr;
  uint32_t arch;
  uint64_t instruction_pointer;
  uint64_t args[6];
} culprit_oracle_notification;

/// SECCOMP_IOCTL_NOTIF_SET_FLAGS(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP), Linux ≥ 6.6: the waiting
/// caller and this process switch on one CPU, which makes each round trip cheaper. Missing from
/// older headers. 0, or -errno (EINVAL before 6.6, harmless).
int culprit_oracle_sync_wakeups(int listener);

/// SECCOMP_IOCTL_NOTIF_RECV on the listener: 0, or -errno (ENOENT: the caller died meanwhile).
/// The ioctl's request number is a composed macro Swift cannot see.
int culprit_oracle_next(int listener, culprit_oracle_notification *_Nonnull out);

/// SECCOMP_IOCTL_NOTIF_SEND: answers notification `id` so that the call returns `value` (when
/// `error` is 0) or fails with `error`, at once and never executed. 0, or -errno.
int culprit_oracle_answer(int listener, uint64_t id, int64_t value, int error);

#ifdef __cplusplus
}
#endif

#endif
