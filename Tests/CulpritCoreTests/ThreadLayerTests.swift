import Testing

@testable import CulpritCore

/// What clone3 and clone answers mean, and the readings behind an EAGAIN.
@Suite struct ThreadLayerTests {
  @Test func clone3Answers() {
    let new = KernelVersion(6, 18, 44)
    #expect(CloneAnswer.clone3(.failure(.invalidArgument), kernel: new) == .kernel)
    #expect(CloneAnswer.clone3(.failure(.noFunction), kernel: new) == .seccompNoSys)
    #expect(CloneAnswer.clone3(.failure(.noFunction), kernel: KernelVersion(5, 3)) == .seccompNoSys)
    #expect(CloneAnswer.clone3(.failure(.noFunction), kernel: KernelVersion(5, 2, 21)) == .kernelLacksCall)
    #expect(CloneAnswer.clone3(.failure(.noFunction), kernel: nil) == .noSysUnknownKernel)
    #expect(CloneAnswer.clone3(.failure(.notPermitted), kernel: new) == .seccompErrno(.notPermitted))
    #expect(CloneAnswer.clone3(.success(1234), kernel: new) == .created)
    #expect(CloneAnswer.clone(.failure(.invalidArgument)) == .kernel)
    #expect(CloneAnswer.clone(.failure(.notPermitted)) == .seccompErrno(.notPermitted))
    #expect(CloneAnswer.clone(.failure(.noFunction)) == .seccompNoSys)
  }

  @Test func glibcFallsBackOnlyOnENOSYS() {
    #expect(CloneAnswer.seccompNoSys.glibcFallsBack)
    #expect(CloneAnswer.kernelLacksCall.glibcFallsBack)
    #expect(!CloneAnswer.seccompErrno(.notPermitted).glibcFallsBack)
    #expect(!CloneAnswer.kernel.glibcFallsBack)
  }

  @Test func clone3UseByLibc() {
    func libc(_ family: ImageLibc.Family, _ version: String?) -> ImageLibc {
      ImageLibc(family: family, version: version, path: nil, evidence: [])
    }
    #expect(libc(.glibc, "2.36").usesClone3ForThreads(machine: "x86_64") == true)
    #expect(libc(.glibc, "2.33").usesClone3ForThreads(machine: "x86_64") == false)
    #expect(libc(.glibc, "2.36").usesClone3ForThreads(machine: "aarch64") == false)
    #expect(libc(.musl, "1.2.4").usesClone3ForThreads(machine: "x86_64") == false)
  }

  /// Real lines: /proc/loadavg and the fields of /proc/1/status on the development machine
  /// (Debian 12, kernel 6.18.44), 2026-11-22.
  @Test func taskCountsFromProc() throws {
    #expect(TaskLimits.parseThreadCount(loadavg: "2.53 2.39 1.56 3/158 8525\n") == 158)
    #expect(TaskLimits.parseThreadCount(loadavg: "garbage") == nil)
    let owner = try #require(TaskLimits.parseTaskOwner(status: "Name:\tprocess_api\nUid:\t0\t0\t0\t0\nThreads:\t13\n"))
    #expect(owner.uid == 0 && owner.threads == 13)
  }

  @Test func parentPIDFromProcStat() {
    #expect(TaskLimits.parseParentPID(stat: "17 (culprit) S 1 17 1 0 -1 4194560 150 0 0 0") == 1)
    #expect(TaskLimits.parseParentPID(stat: "42 (a) b (c)) R 7 42 7 0") == 7)
    #expect(TaskLimits.parseParentPID(stat: "garbage") == nil)
  }

  @Test func culpritsOwnShareOfAFullPidsLevel() {
    var full = limits(pids: [.init(directory: "/sys/fs/cgroup/pids/c", max: 4, current: 4, refusals: 1)])
    full.culpritTasks = 3
    #expect(full.attributeEAGAIN(call: "pthread_create", before: nil).evidence.contains(
      "3 of the 4 tasks in /sys/fs/cgroup/pids/c are culprit's own (culprit and the processes it made for its probes): a program running here without culprit would have room for 2 more tasks besides itself."))
    full.culpritTasks = 0
    #expect(!full.attributeEAGAIN(call: "pthread_create", before: nil).evidence.contains { $0.contains("culprit's own") })
  }

  func limits(pids: [TaskLimits.PidsLevel], nproc: UInt64? = nil, uid: UInt32 = 0, tasks: Int? = nil, exempt: Bool = true)
    -> TaskLimits
  {
    TaskLimits(
      pids: pids, nprocSoft: nproc, realUID: uid, tasksOfUID: tasks, exemptFromNproc: exempt, threadsMax: 192_730,
      threadsNow: 160)
  }

  @Test func eagainFromTheNearestFullPidsLevel() {
    let before = limits(pids: [.init(directory: "/sys/fs/cgroup/pids/a", max: 10, current: 3, refusals: 0)])
    let after = limits(pids: [
      .init(directory: "/sys/fs/cgroup/pids/a", max: 10, current: 3, refusals: 1),
      .init(directory: "/sys/fs/cgroup/pids", max: 3, current: 3, refusals: 4),
    ])
    let verdict = after.attributeEAGAIN(call: "pthread_create", before: before)
    #expect(verdict.layer == .cgroupPids)
    #expect(verdict.summary.contains("3 of 3 tasks in /sys/fs/cgroup/pids)"))
    #expect(verdict.evidence.contains { $0.contains("pids.events max went from 0 to 1") })
  }

  @Test func eagainFromRlimitOnlyWhenTheKernelAppliesIt() {
    let applies = limits(pids: [], nproc: 2, uid: 54321, tasks: 2, exempt: false)
    #expect(applies.attributeEAGAIN(call: "fork", before: nil).layer == .rlimit)
    let exempt = limits(pids: [], nproc: 2, uid: 0, tasks: 200, exempt: true)
    #expect(exempt.attributeEAGAIN(call: "fork", before: nil).layer == .unknown)
    let full = TaskLimits(
      pids: [], nprocSoft: nil, realUID: 0, tasksOfUID: nil, exemptFromNproc: true, threadsMax: 100, threadsNow: 100)
    #expect(full.attributeEAGAIN(call: "fork", before: nil).layer == .kernel)
  }
}
