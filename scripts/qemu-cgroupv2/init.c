// PID 1 of the throw-away VM that records culprit's cgroup-v2 fixtures (scripts/record-fixtures.sh
// cgroupv2-qemu). No shell, no libc in the initramfs: this program is linked statically.
//
// It mounts proc, sysfs, securityfs, devtmpfs, a tmpfs on /tmp and cgroup2 (alone: the kernel
// is booted with cgroup_no_v1=all), enables +pids +memory +cpu for the root's children, makes
// /sys/fs/cgroup/culprit with pids.max, memory.max and cpu.max set, and runs
// `/culprit-testkit capture` three times, each in a child that first moves itself into that cgroup
// and fills it up to pids.max once (so pids.events counts a refusal):
//
//   /tmp/fx/hostns    in the initial cgroup namespace: /proc/self/cgroup says 0::/culprit
//   /tmp/fx/private   after unshare(CLONE_NEWCGROUP|CLONE_NEWNS) and a fresh cgroup2 mount, as
//                     container runtimes do: 0::/ and the mount's root is the namespace's root
//   /tmp/fx/unshared  after unshare(CLONE_NEWCGROUP) alone (`unshare -C`): 0::/, but the old
//                     mount's root shows as /.. (outside the namespace)
//
// Then it writes every file under /tmp/fx to the second serial port (/dev/ttyS1) as
//   CULPRIT-FILE <path> <size>\n<base64 lines>\n ... CULPRIT-DONE\n
// and powers the machine off. Progress and errors go to the console (ttyS0).
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CGROUP "/sys/fs/cgroup/culprit"
#define PIDS_MAX "16"
#define MEMORY_MAX "268435456"
#define CPU_MAX "50000 100000"

static void say(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fprintf(stderr, "culprit-init: ");
  vfprintf(stderr, format, args);
  fprintf(stderr, "\n");
  va_end(args);
}

static void off(void) {
  sync();
  reboot(RB_POWER_OFF);
  _exit(1);
}

static void must(int ok, const char *what) {
  if (!ok) {
    say("%s failed: %s", what, strerror(errno));
    off();
  }
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  must(fd >= 0, path);
  must(write(fd, text, strlen(text)) == (ssize_t)strlen(text), path);
  close(fd);
}

// Forks children that wait until fork fails (the pids limit), then ends them: pids.events then
// holds "max 1" and pids.current is back to this process alone.
static void fill_pids(void) {
  pid_t children[64];
  int n = 0;
  for (; n < 64; n++) {
    pid_t pid = fork();
    if (pid == 0) {
      pause();
      _exit(0);
    }
    if (pid < 0) break;
    children[n] = pid;
  }
  say("forked %d children before fork failed: %s", n, strerror(errno));
  for (int i = 0; i < n; i++) kill(children[i], SIGKILL);
  for (int i = 0; i < n; i++) waitpid(children[i], NULL, 0);
}

static void capture(const char *name, int flags, int remount) {
  char out[64];
  snprintf(out, sizeof out, "/tmp/fx/%s", name);
  pid_t pid = fork();
  must(pid >= 0, "fork");
  if (pid == 0) {
    write_file(CGROUP "/cgroup.procs", "0");
    fill_pids();
    if (flags) must(unshare(flags) == 0, "unshare");
    if (remount) {
      must(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0, "make / private");
      must(umount2("/sys/fs/cgroup", MNT_DETACH) == 0, "umount /sys/fs/cgroup");
      must(mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0,
           "mount cgroup2 in the new namespace");
    }
    execl("/culprit-testkit", "culprit-testkit", "capture", out, (char *)NULL);
    say("exec /culprit-testkit: %s", strerror(errno));
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  say("capture %s ended with status 0x%x", name, status);
}

static FILE *data;

static void emit(const char *path) {
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  int fd = open(path, O_RDONLY);
  if (fd < 0) return;
  struct stat st;
  fstat(fd, &st);
  fprintf(data, "CULPRIT-FILE %s %lld\n", path, (long long)st.st_size);
  unsigned char in[57];
  ssize_t n;
  // 57 bytes make one 76-character line.
  while ((n = read(fd, in, sizeof in)) > 0) {
    for (ssize_t i = 0; i < n; i += 3) {
      unsigned v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
      fputc(alphabet[v >> 18 & 63], data);
      fputc(alphabet[v >> 12 & 63], data);
      fputc(i + 1 < n ? alphabet[v >> 6 & 63] : '=', data);
      fputc(i + 2 < n ? alphabet[v & 63] : '=', data);
    }
    fputc('\n', data);
  }
  close(fd);
}

static void walk(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (lstat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) walk(path);
    else if (S_ISREG(st.st_mode)) emit(path);
  }
  closedir(d);
}

int main(void) {
  mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  int console = open("/dev/console", O_RDWR);
  if (console >= 0) {
    dup2(console, 1);
    dup2(console, 2);
  }
  must(mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0, "mount proc");
  must(mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0, "mount sysfs");
  mount("securityfs", "/sys/kernel/security", "securityfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  must(mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) == 0, "mount cgroup2");
  must(mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") == 0, "mount /tmp");
  mkdir("/tmp/fx", 0755);

  write_file("/sys/fs/cgroup/cgroup.subtree_control", "+pids +memory +cpu");
  must(mkdir(CGROUP, 0755) == 0, "mkdir " CGROUP);
  write_file(CGROUP "/pids.max", PIDS_MAX);
  write_file(CGROUP "/memory.max", MEMORY_MAX);
  write_file(CGROUP "/cpu.max", CPU_MAX);
  say("cgroup " CGROUP ": pids.max " PIDS_MAX ", memory.max " MEMORY_MAX ", cpu.max " CPU_MAX);

  capture("hostns", 0, 0);
  capture("private", CLONE_NEWCGROUP | CLONE_NEWNS, 1);
  capture("unshared", CLONE_NEWCGROUP, 0);

  data = fopen("/dev/ttyS1", "w");
  must(data != NULL, "open /dev/ttyS1");
  fprintf(data, "CULPRIT-BEGIN\n");
  walk("/tmp/fx");
  fprintf(data, "CULPRIT-DONE\n");
  fclose(data);
  say("done");
  off();
  return 0;
}
