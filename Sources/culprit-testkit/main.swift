// culprit-testkit: the tests' helper. Not shipped.
//
//   culprit-testkit jail [restrictions] -- COMMAND [ARGS...]
//       Puts real restrictions in place, then execs COMMAND under them:
//         --seccomp-default ACTION      default action of a seccomp filter (default: allow)
//         --seccomp-rule NAME=ACTION    a rule (NAME is a syscall name or number); repeatable
//         --drop-caps all|CAP_A,CAP_B   remove capabilities from every set, bounding included
//         --keep-caps CAP_A,CAP_B       remove every capability but these
//         --user UID[:GID]              switch to this uid/gid (groups cleared)
//         --cgroup DIR                  join this cgroup (writes the pid to DIR/cgroup.procs)
//         --rlimit nproc=N              set a resource limit (nproc, nofile)
//         --no-new-privs                set no_new_privs
//         --seccomp-profile FILE        install a Docker/Podman/OCI profile as culprit's
//                                       --seccomp-profile does (after the other restrictions)
//       ACTION: allow, errno:EPERM, errno:38, kill, kill_process, trap, log.
//
//   culprit-testkit capture DIR
//       Runs the configuration probes' readers on this system and writes every file they read
//       under DIR/root/, and the results of uname, statfs, getrlimit, capget into
//       DIR/syscalls.json: a fixture for FixtureSystem. /proc/self/environ keeps only the
//       variables the runtime reader uses (container, KUBERNETES_SERVICE_*) and HOSTNAME, HOME,
//       PATH, TERM.
//
//   culprit-testkit observe PROBE[,PROBE...]
//       Runs action probes (thread, ptrace-attach, mknod) through the runner and prints each
//       verdict with facts.observations and facts.snapshot_facts: what the child saw and what
//       it was judged with (the fixtures of Tests/CulpritCoreTests/Fixtures/vm-matrix).
//
//   culprit-testkit runner [--timeout MS] CASE...
//       Runs the probe runner on synthetic probes and prints the report as JSON. CASE: ok,
//       inprocess, hang (a 5 s budget), hang-short (800 ms), kill, trap, crash, garbage,
//       grandchild, hold, fork.
//
//   culprit-testkit oracle CALL...
//       Asks the seccomp oracle what the filters this process runs under do with each CALL
//       (a syscall name or number, optionally :ARG0,ARG1,...) and prints one line per call.

import CCulprit
import CulpritCore

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
  _ = Sys.writeAll(2, Array("culprit-testkit: \(message)\n".utf8))
  exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else { fail("usage: culprit-testkit jail|capture|observe|runner|oracle ...") }
arguments.removeFirst()

switch command {
case "jail": Jail.run(arguments)
case "capture": Capture.run(arguments)
case "runner": RunnerDemo.run(arguments)
case "observe": Observe.run(arguments)
case "oracle": OracleDemo.run(arguments)
case "host-cni": HostDemo.cni(arguments)
case "host-containers": HostDemo.containers(arguments)
case "cni-eintr-plugin": HostDemo.eintrPlugin()
default: fail("unknown command \(command)")
}
