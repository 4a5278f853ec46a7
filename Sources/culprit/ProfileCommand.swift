import ArgumentParser
import CulpritCore

extension SeccompRuntime: ExpressibleByArgument {}

/// `culprit profile check|diff`: a seccomp profile checked before it ships, offline.
struct ProfileCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "profile",
    abstract: "Check a seccomp profile, or compare two, before they ship (offline, no container).",
    discussion: """
      The profile is compiled with libseccomp as the runtime that will load it does (with \
      runc's -ENOSYS stub for the runc-based runtimes), and the resulting BPF program is \
      interpreted for every syscall number of the architectures it lists: exact, with no \
      container and no kernel filter involved.

      --runtime <runtime> names the runtime that loads the profile (default runc): \
      docker-20.10 (drops defaultErrnoRet, moby#42604), docker-23, containerd (all three \
      decide includes/excludes, then runc adds its stub), podman (crun: no stub), runc \
      (ignores includes/excludes, adds the stub), crun (ignores them, no stub).

      EXAMPLES:
        culprit profile check my-profile.json
        culprit profile check --runtime docker-20.10 --libc musl-1.2.4 p.json
        culprit profile diff old.json new.json
        culprit --format markdown profile diff old.json new.json

      EXIT STATUS:
        0  nothing breaks (check) / nothing got worse (diff)
        1  a call a program needs is refused or killed / the new profile breaks something
        2  usage error, or a profile no runtime would load
      """,
    subcommands: [ProfileCheckCommand.self, ProfileDiffCommand.self])

  @ParentCommand var culprit: CulpritCommand
}

/// The options check and diff share. The runtime is culprit's own --runtime (default runc),
/// which ArgumentParser parses for the root command wherever it appears, as --format.
struct ProfileOptions: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "The C library whose needs decide what breaks: glibc-VERSION, musl-VERSION or none.",
      valueName: "libc"))
  var libc: String = ProfileCheck.newestGlibc

  func validate() throws {
    if ProfileCheck.libc(libc) == nil {
      throw ValidationError("--libc takes glibc-VERSION, musl-VERSION or none, not '\(libc)'")
    }
  }

  func check(_ path: String, runtime: SeccompRuntime) throws -> ProfileCheck {
    let text: String
    switch Sys.readFile(path, limit: 16 << 20) {
    case .success(let bytes): text = String(decoding: bytes, as: UTF8.self)
    case .failure(let err): throw ValidationError("cannot read \(path): \(err)")
    }
    let kernel = Sys.uname().value.flatMap { KernelVersion(release: $0.release) }
    var evaluations: [ProfileEvaluation] = []
    do {
      let profile = try SeccompProfile.parse(text)
      for arch in ProfileEvaluation.architectures(of: profile) {
        evaluations.append(try ProfileEvaluation.evaluate(text, path: path, runtime: runtime, arch: arch, kernel: kernel))
      }
    } catch {
      throw ValidationError("\(path): \(error.description)")
    }
    return ProfileCheck(evaluations: evaluations, libc: ProfileCheck.libc(libc)!)
  }
}

struct ProfileCheckCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Which calls programs need does this profile refuse or kill, and what breaks?")

  @ParentCommand var profile: ProfileCommand
  @OptionGroup var options: ProfileOptions

  @Argument(help: ArgumentHelp("The seccomp profile (Docker, Podman or OCI JSON).", valueName: "file"))
  var file: String

  func run() throws {
    let check = try options.check(file, runtime: profile.culprit.runtime ?? .runc)
    try Output.write(check.render(profile.culprit.format))
    if check.breaksSomething { throw ExitCode(Exit.failedCheck) }
  }
}

struct ProfileDiffCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "diff",
    abstract: "Which calls change their answer between two profiles, and what that breaks or fixes?")

  @ParentCommand var profile: ProfileCommand
  @OptionGroup var options: ProfileOptions

  @Argument(help: ArgumentHelp("The profile in use (or the one that worked).", valueName: "old"))
  var old: String

  @Argument(help: ArgumentHelp("The profile about to ship.", valueName: "new"))
  var new: String

  func run() throws {
    let runtime = profile.culprit.runtime ?? .runc
    let diff = ProfileDiff(old: try options.check(old, runtime: runtime), new: try options.check(new, runtime: runtime))
    try Output.write(diff.render(profile.culprit.format))
    if diff.gotWorse { throw ExitCode(Exit.failedCheck) }
  }
}
