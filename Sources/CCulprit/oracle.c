// The exact seccomp oracle (field-facts §12). See CCulpritOracle.h for why each function is C.
#define _GNU_SOURCE
#include "CCulpritOracle.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SECCOMP_RET_USER_NOTIF
#define SECCOMP_RET_USER_NOTIF 0x7fc00000U
#endif
#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif

// The replay: one syscall instruction at a known address. `culprit_oracle_call_site` is the
// syscall instruction, `culprit_oracle_call_return` the one after it; the kernel reports the
// latter as seccomp_data.instruction_pointer on x86_64 (regs->ip after `syscall`) and on
// aarch64 (the preferred return address of `svc`). The filter accepts both.
#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl culprit_oracle_call\n"
    ".type culprit_oracle_call, @function\n"
    "culprit_oracle_call:\n"
    "  mov %rdi, %rax\n"
    "  mov %rsi, %r11\n"
    "  mov 0(%r11), %rdi\n"
    "  mov 8(%r11), %rsi\n"
    "  mov 16(%r11), %rdx\n"
    "  mov 24(%r11), %r10\n"
    "  mov 32(%r11), %r8\n"
    "  mov 40(%r11), %r9\n"
    ".globl culprit_oracle_call_site\n"
    "culprit_oracle_call_site:\n"
    "  syscall\n"
    ".globl culprit_oracle_call_return\n"
    "culprit_oracle_call_return:\n"
    "  ret\n"
    ".size culprit_oracle_call, .-culprit_oracle_call\n");
#define CULPRIT_ORACLE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".globl culprit_oracle_call\n"
    ".type culprit_oracle_call, %function\n"
    "culprit_oracle_call:\n"
    "  mov x8, x0\n"
    "  mov x9, x1\n"
    "  ldp x0, x1, [x9]\n"
    "  ldp x2, x3, [x9, #16]\n"
    "  ldp x4, x5, [x9, #32]\n"
    ".globl culprit_oracle_call_site\n"
    "culprit_oracle_call_site:\n"
    "  svc #0\n"
    ".globl culprit_oracle_call_return\n"
    "culprit_oracle_call_return:\n"
    "  ret\n"
    ".size culprit_oracle_call, .-culprit_oracle_call\n");
#define CULPRIT_ORACLE_ARCH AUDIT_ARCH_AARCH64
#else
long culprit_oracle_call(long number, const uint64_t args[6]) {
  (void)number;
  (void)args;
  return -ENOSYS;
}
static const char culprit_oracle_call_site[1], culprit_oracle_call_return[1];
#define CULPRIT_ORACLE_ARCH 0
#endif

#if defined(__x86_64__) || defined(__aarch64__)
extern const char culprit_oracle_call_site[];
extern const char culprit_oracle_call_return[];
#endif

void culprit_oracle_program(void *out, unsigned short *count) {
  uint64_t site = (uint64_t)(uintptr_t)culprit_oracle_call_site;
  uint64_t after = (uint64_t)(uintptr_t)culprit_oracle_call_return;
  uint32_t ip_lo = offsetof(struct seccomp_data, instruction_pointer);
  uint32_t ip_hi = ip_lo + 4;  // little-endian: x86_64 and aarch64
  // Both addresses share their high word: the two instructions are 2 or 4 bytes apart and a
  // function never straddles a 4 GiB boundary in practice; checked here anyway.
  struct sock_filter program[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CULPRIT_ORACLE_ARCH, 0, 6),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip_hi),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(site >> 32), 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ip_lo),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)after, 1, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)site, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  if ((site >> 32) != (after >> 32)) {
    // Never notify rather than notify the wrong calls: every replay then runs unasked, so the
    // Swift side's calibration (a getpid that must be notified) refuses to go on.
    program[1] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  }
  memcpy(out, program, sizeof(program));
  *count = sizeof(program) / sizeof(program[0]);
}

void culprit_oracle_call_addresses(uint64_t *site, uint64_t *after) {
  *site = (uint64_t)(uintptr_t)culprit_oracle_call_site;
  *after = (uint64_t)(uintptr_t)culprit_oracle_call_return;
}

static int culprit_send_fd(int socket, int fd) {
  char byte = 0;
  struct iovec io = {&byte, 1};
  union {
    char buffer[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof(control));
  struct msghdr message;
  memset(&message, 0, sizeof(message));
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control.buffer;
  message.msg_controllen = sizeof(control.buffer);
  struct cmsghdr *header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(header), &fd, sizeof(fd));
  ssize_t sent;
  do {
    sent = sendmsg(socket, &message, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  return sent < 0 ? -errno : 0;
}

int culprit_oracle_receive_fd(int socket) {
  char byte;
  struct iovec io = {&byte, 1};
  union {
    char buffer[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof(control));
  struct msghdr message;
  memset(&message, 0, sizeof(message));
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  message.msg_control = control.buffer;
  message.msg_controllen = sizeof(control.buffer);
  ssize_t got;
  do {
    got = recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return -errno;
  struct cmsghdr *header = CMSG_FIRSTHDR(&message);
  if (got == 0 || header == NULL || header->cmsg_type != SCM_RIGHTS) return -ENODATA;
  int fd;
  memcpy(&fd, CMSG_DATA(header), sizeof(fd));
  return fd;
}

int culprit_oracle_install(int socket, int *failed_step) {
  *failed_step = 0;
  int nnp_error = 0;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) nnp_error = errno;
  struct sock_filter instructions[16];
  unsigned short count = 0;
  culprit_oracle_program(instructions, &count);
  struct sock_fprog program = {count, instructions};
  long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &program);
  if (listener < 0) {
    int err = errno;
    if (err == EACCES && nnp_error != 0) {
      *failed_step = 1;
      return -nnp_error;
    }
    *failed_step = 2;
    return -err;
  }
  int rc = culprit_send_fd(socket, (int)listener);
  close((int)listener);
  if (rc != 0) {
    *failed_step = 3;
    return rc;
  }
  return 0;
}

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

int culprit_oracle_sync_wakeups(int listener) {
  return ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, (unsigned long long)SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) < 0 ? -errno : 0;
}

int culprit_oracle_next(int listener, culprit_oracle_notification *out) {
  struct seccomp_notif request;
  // The kernel refuses a request buffer that is not zeroed (EINVAL).
  memset(&request, 0, sizeof(request));
  int rc;
  do {
    rc = ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &request);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return -errno;
  out->id = request.id;
  out->pid = request.pid;
  out->nr = request.data.nr;
  out->arch = request.data.arch;
  out->instruction_pointer = request.data.instruction_pointer;
  for (int i = 0; i < 6; i++) out->args[i] = request.data.args[i];
  return 0;
}

int culprit_oracle_answer(int listener, uint64_t id, int64_t value, int error) {
  struct seccomp_notif_resp response;
  memset(&response, 0, sizeof(response));
  response.id = id;
  response.val = value;
  response.error = -error;
  response.flags = 0;  // never SECCOMP_USER_NOTIF_FLAG_CONTINUE: the call must not run
  int rc;
  do {
    rc = ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &response);
  } while (rc < 0 && errno == EINTR);
  return rc < 0 ? -errno : 0;
}
