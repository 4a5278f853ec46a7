// The ground truth of scripts/vm-matrix.sh: the kernel's own answers to the calls culprit's
// probes make, from a program that shares no code with culprit (static glibc, no Swift). Each
// line is KEY=VALUE, the value an errno name (strerrorname_np) or OK, or a number.
//
//   gt threads          threads started (each kept alive) until pthread_create fails, at most 8
//   gt ptrace           PTRACE_SEIZE on a child, from a sibling, on a non-dumpable child, on a
//                       child of another uid (when root), and PTRACE_TRACEME in a child
//   gt mknod DIR        mkdir DIR/gt-PID, mknod a FIFO, c 61:0 and b 61:0 in it, open the char
//                       device for reading and for writing, remove everything
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *result(int ok) { return ok ? "OK" : strerrorname_np(errno); }

static void *park(void *arg) {
  (void)arg;
  pause();
  return NULL;
}

static int threads(void) {
  int n = 0, err = 0, retries = 0;
  for (; n < 8; n++) {
    pthread_t t;
    err = pthread_create(&t, NULL, park, NULL);
    // Right after runc start the threads of runc init's Go runtime, gone with its execve, may
    // still be charged to the pids cgroup for a moment: a first EAGAIN is asked again (at most
    // 5 times, 50 ms apart) and counted, so a lone program's room is what is printed.
    if (err == EAGAIN && n == 0 && retries < 5) {
      retries++;
      n--;
      usleep(50000);
      continue;
    }
    if (err) break;
  }
  printf("threads_started=%d\n", n);
  printf("thread_first_eagain_retries=%d\n", retries);
  printf("thread_error=%s\n", err ? strerrorname_np(err) : "none");
  return 0;
}

static pid_t sleeper(void) {
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (;;) pause();
  }
  return pid;
}

static void end(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

// Seizes pid and detaches again; prints the answer.
static void seize(const char *key, pid_t pid) {
  if (pid < 0) {
    printf("%s=fork-%s\n", key, strerrorname_np(errno));
    return;
  }
  long r = ptrace(PTRACE_SEIZE, pid, 0, 0);
  printf("%s=%s\n", key, result(r == 0));
  if (r == 0) {
    // PTRACE_DETACH needs a stopped tracee.
    ptrace(PTRACE_INTERRUPT, pid, 0, 0);
    waitpid(pid, NULL, __WALL);
    ptrace(PTRACE_DETACH, pid, 0, 0);
  }
}

static int trace(void) {
  pid_t child = sleeper();
  seize("attach_child", child);
  fflush(stdout);
  // A sibling of the child: not the target's ancestor.
  pid_t sibling = fork();
  if (sibling == 0) {
    long r = ptrace(PTRACE_SEIZE, child, 0, 0);
    printf("attach_sibling=%s\n", result(r == 0));
    fflush(stdout);
    _exit(0);
  }
  waitpid(sibling, NULL, 0);
  end(child);

  prctl(PR_SET_DUMPABLE, 0);
  pid_t undumpable = sleeper();
  prctl(PR_SET_DUMPABLE, 1);
  seize("attach_nondumpable", undumpable);
  end(undumpable);

  if (getuid() == 0) {
    int ready[2];
    if (pipe(ready) == 0) {
      pid_t other = fork();
      if (other == 0) {
        close(ready[0]);
        if (setresuid(65534, 65534, 0) != 0) _exit(1);
        prctl(PR_SET_DUMPABLE, 1);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        write(ready[1], "r", 1);
        for (;;) pause();
      }
      close(ready[1]);
      char c;
      if (read(ready[0], &c, 1) == 1) seize("attach_otheruid", other);
      else printf("attach_otheruid=setresuid-failed\n");
      close(ready[0]);
      end(other);
    }
  }

  int answer[2];
  if (pipe(answer) == 0) {
    pid_t tracee = fork();
    if (tracee == 0) {
      close(answer[0]);
      long r = ptrace(PTRACE_TRACEME, 0, 0, 0);
      int e = errno;
      write(answer[1], &e, sizeof e);
      write(answer[1], &r, sizeof r);
      _exit(0);
    }
    close(answer[1]);
    int e = 0;
    long r = -1;
    read(answer[0], &e, sizeof e);
    read(answer[0], &r, sizeof r);
    close(answer[0]);
    printf("traceme=%s\n", r == 0 ? "OK" : strerrorname_np(e));
    waitpid(tracee, NULL, 0);
  }
  return 0;
}

static int nodes(const char *base) {
  char dir[4096], path[4200];
  snprintf(dir, sizeof dir, "%s/gt-%d", base, getpid());
  int made = mkdir(dir, 0700) == 0;
  printf("mkdir=%s\n", result(made));
  if (!made) return 0;
  snprintf(path, sizeof path, "%s/fifo", dir);
  printf("mknod_fifo=%s\n", result(mknod(path, S_IFIFO | 0600, 0) == 0));
  unlink(path);
  snprintf(path, sizeof path, "%s/block", dir);
  printf("mknod_block=%s\n", result(mknod(path, S_IFBLK | 0600, makedev(61, 0)) == 0));
  unlink(path);
  snprintf(path, sizeof path, "%s/char", dir);
  int node = mknod(path, S_IFCHR | 0600, makedev(61, 0)) == 0;
  printf("mknod_char=%s\n", result(node));
  if (node) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    printf("open_char_read=%s\n", result(fd >= 0));
    if (fd >= 0) close(fd);
    fd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY);
    printf("open_char_write=%s\n", result(fd >= 0));
    if (fd >= 0) close(fd);
    unlink(path);
  }
  rmdir(dir);
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc >= 2 && !strcmp(argv[1], "threads")) return threads();
  if (argc >= 2 && !strcmp(argv[1], "ptrace")) return trace();
  if (argc >= 3 && !strcmp(argv[1], "mknod")) return nodes(argv[2]);
  fprintf(stderr, "usage: gt threads | gt ptrace | gt mknod DIR\n");
  return 2;
}
