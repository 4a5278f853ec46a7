import CulpritCore
import Foundation
import Testing

@Suite struct JSONValueTests {
  @Test func parsesEveryKindAndKeepsKeyOrder() throws {
    let value = try JSONValue.parse(#"{"b": 1, "a": [true, false, null, -2.5e3, "x\"y\\z\u00e9\ud83d\ude00"], "c": {}}"#)
    guard case .object(let object) = value else { Issue.record("not an object"); return }
    #expect(object.keys == ["b", "a", "c"])
    #expect(value["b"] == .int(1))
    #expect(value["a"] == [true, false, nil, .double(-2500), .string("x\"y\\zé😀")])
    #expect(value["c"] == .object([:]))
  }

  @Test func serialisesLikeFoundationParsesIt() throws {
    let value: JSONValue = ["id": "thread", "n": 3, "ok": true, "none": nil, "list": ["a", 1], "text": "tab\there \"quoted\" \u{01}"]
    for pretty in [true, false] {
      let text = value.serialized(pretty: pretty)
      let foundation = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
      #expect(foundation?["id"] as? String == "thread")
      #expect(foundation?["text"] as? String == "tab\there \"quoted\" \u{01}")
      #expect(try JSONValue.parse(text) == value)
    }
  }

  @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "tru", "\"unterminated", "01x", "[1] 2", "{\"a\":1,}", "\"\\q\""])
  func rejectsMalformedText(text: String) {
    #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
  }

  @Test func errorsGiveTheLine() {
    do {
      _ = try JSONValue.parse("{\n  \"a\": 1,\n  \"b\": ]\n}")
      Issue.record("parsed")
    } catch {
      #expect(error.line == 3)
    }
  }

  @Test func refusesDeepNesting() {
    let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
    #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
  }

  @Test func objectSetterReplacesInPlaceAndRemovesWithNil() {
    var object: JSONObject = ["a": 1, "b": 2]
    object["a"] = 3
    object["b"] = nil
    object["c"] = 4
    #expect(object.keys == ["a", "c"])
    #expect(object["a"] == .int(3))
  }
}

@Suite struct SmallParserTests {
  @Test(arguments: [
    ("6.18.44-fc-v657", KernelVersion(6, 18, 44)),
    ("5.15.0-91-generic", KernelVersion(5, 15, 0)),
    ("4.19.0", KernelVersion(4, 19, 0)),
    ("6.1.0-18-amd64", KernelVersion(6, 1, 0)),
    ("5.4", KernelVersion(5, 4, 0)),
    ("3.10.0-1160.el7.x86_64", KernelVersion(3, 10, 0)),
  ])
  func kernelVersionFromRelease(release: String, expected: KernelVersion) {
    #expect(KernelVersion(release: release) == expected)
  }

  @Test func kernelVersionRejectsNonsense() {
    #expect(KernelVersion(release: "") == nil)
    #expect(KernelVersion(release: "linux") == nil)
    #expect(KernelVersion(release: "6") == nil)
    #expect(KernelVersion(6, 1) < KernelVersion(6, 1, 1))
    #expect(KernelVersion(5, 3) <= KernelVersion(5, 3, 0))
  }

  @Test func errnoNames() {
    #expect(Errno.notPermitted.name == "EPERM")
    #expect(Errno(rawValue: 38).name == "ENOSYS")
    #expect(Errno(rawValue: 11).name == "EAGAIN")
    #expect(Errno(name: "EACCES") == .permissionDenied)
    #expect(Errno(rawValue: 999).name == "errno 999")
    #expect(Errno.invalidArgument.description == "EINVAL (Invalid argument)")
  }

  @Test func procStatusFields() {
    // From /proc/self/status on the Debian 12 machine these tests were written on (kernel 6.18).
    let status = ProcStatus.parse("""
      Name:\tcat
      Umask:\t0022
      CapInh:\t0000000000000000
      CapEff:\t000001fffeffffff
      NoNewPrivs:\t0
      Seccomp:\t0
      Seccomp_filters:\t0
      Cpus_allowed_list:\t0-1
      """)
    #expect(status["Name"] == "cat")
    #expect(status.hex("CapEff") == 0x1fffeffffff)
    #expect(status.int("Seccomp_filters") == 0)
    #expect(status["Missing"] == nil)
  }

  @Test func mountinfoUnescapesAndFindsTheLongestPrefix() {
    // Lines in the format of this machine's /proc/self/mountinfo; the space in the last mount
    // point is escaped as the kernel escapes it.
    let table = MountTable.parse("""
      24 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
      25 24 0:22 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw,size=65536k
      26 25 0:23 / /tmp/ro\\040dir ro,nosuid,nodev,noexec - tmpfs tmpfs ro
      garbage line
      """)
    #expect(table.mounts.count == 3)
    #expect(table.mount(containing: "/tmp/x")?.mountPoint == "/tmp")
    #expect(table.mount(containing: "/tmpfoo")?.mountPoint == "/")
    let ro = table.mount(containing: "/tmp/ro dir/file")
    #expect(ro?.mountPoint == "/tmp/ro dir")
    #expect(ro?.isReadOnly == true && ro?.isNoDev == true && ro?.isNoExec == true)
    #expect(table.mount(containing: "/")?.fsType == "ext4")
  }

  @Test func devicesListRules() {
    // Docker's devices.list on cgroup v1 (runc's AllowedDevices).
    let docker = ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"]
    #expect(DeviceRule.listAllows(docker, "m", type: "c", major: 240, minor: 0))
    #expect(!DeviceRule.listAllows(docker, "r", type: "c", major: 240, minor: 0))
    #expect(DeviceRule.listAllows(docker, "w", type: "c", major: 136, minor: 7))
    #expect(!DeviceRule.listAllows(docker, "r", type: "b", major: 240, minor: 0))
    #expect(DeviceRule.listAllows(["a *:* rwm"], "r", type: "b", major: 8, minor: 0))
    #expect(DeviceRule("nonsense") == nil)
  }

  @Test func capabilitySets() {
    let docker = CapabilitySet.dockerDefault
    #expect(docker.numbers.count == 14)
    #expect(docker.names.contains("CAP_MKNOD") && !docker.names.contains("CAP_SYS_PTRACE"))
    #expect(CapabilitySet.podmanDefault.numbers.count == 11)
    #expect(CapabilitySet.full(lastCap: 40).bits == 0x1ff_ffff_ffff)
    #expect(CapabilitySet(bits: 1 << 45).jsonList == [45])
    #expect(Capability.number("sys_ptrace") == 19 && Capability.number("CAP_MKNOD") == 27)
  }
}
