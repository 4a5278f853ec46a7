import Foundation
import Testing

@testable import CulpritCore

/// A fixture directory of Tests/CulpritCoreTests/Fixtures (each has a PROVENANCE.md).
func fixture(_ name: String) throws -> FixtureSystem {
  let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)").path
  return try FixtureSystem(directory: directory)
}

/// The resolver's files, parsed from copies of real ones (see each fixture's PROVENANCE.md).
@Suite struct ResolverConfigTests {
  @Test func debianHostFiles() throws {
    let config = ResolverConfig.read(try fixture("resolver-debian12-host"))
    let resolv = try config.resolvConf.get()
    #expect(resolv.nameservers == ["10.255.255.53"])
    #expect(resolv.search.isEmpty && resolv.options.isEmpty)
    #expect(resolv.effectiveNameservers == ["10.255.255.53"])
    #expect(config.hostsSources == "files dns")
    #expect(!config.hostsSourcesAreDefault)
    #expect(config.modulesNeedingDlopen.isEmpty)
    // The passwd line names systemd, which does not matter to hosts lookups.
    #expect(config.nsswitch.value?.databases["passwd"] == "files systemd")
    #expect(config.hosts.value?.addresses(of: "localhost") == ["127.0.0.1"])
    #expect(config.problems.isEmpty)
    #expect(config.evidence.contains("/etc/resolv.conf: nameserver 10.255.255.53."))
    #expect(config.evidence.contains("/etc/nsswitch.conf: hosts: files dns."))
  }

  @Test func debianImageNsswitch() throws {
    let config = ResolverConfig.read(try fixture("resolver-debian12-image"))
    #expect(config.nsswitch.value?.hosts == "files dns")
    #expect(config.nsswitch.value?.databases["passwd"] == "files")
    #expect(config.nsswitch.value?.databases["netgroup"] == "nis")
    // The image fixture has no resolv.conf and no hosts: both are findings, not crashes.
    #expect(config.resolvConf.failure == .noSuchFile)
    #expect(config.hosts.failure == .noSuchFile)
    #expect(config.problems.contains { $0.hasPrefix("/etc/resolv.conf is missing") })
    #expect(config.problems.contains { $0.hasPrefix("/etc/hosts is missing") })
  }

  @Test func podmanNetworkNoneHasNoResolvConfAndNoNsswitch() throws {
    let config = ResolverConfig.read(try fixture("resolver-podman-network-none"))
    #expect(config.resolvConf.failure == .noSuchFile)
    #expect(config.nsswitch.failure == .noSuchFile)
    #expect(config.hostsSources == "dns [!UNAVAIL=return] files")
    #expect(config.hostsSourcesAreDefault)
    #expect(config.hostsUsesDNS && config.hostsUsesFiles)
    #expect(config.hosts.value?.addresses(of: "host.containers.internal") == ["192.0.2.2"])
    #expect(config.hosts.value?.addresses(of: "LOCALHOST") == ["127.0.0.1"])
    #expect(config.evidence.contains { $0.contains("DNS is asked first, even for localhost") })
    #expect(config.resolvConf.value == nil)
  }

  @Test func podmanDNSOptions() throws {
    let config = ResolverConfig.read(try fixture("resolver-podman-dns-options"))
    let resolv = try config.resolvConf.get()
    #expect(resolv.nameservers == ["127.0.0.1"])
    #expect(resolv.search == ["example.internal"])
    #expect(resolv.options == ["ndots:5"])
    #expect(resolv.option("ndots") == 5)
    #expect(config.evidence.contains("/etc/resolv.conf: nameserver 127.0.0.1; search example.internal; options ndots:5."))
  }

  @Test func resolvConfRulesOfGlibc() {
    let text = """
      # comment
      ; also a comment
      domain first.example
      nameserver 10.0.0.1
      nameserver   ::1
      nameserver fe80::1%lo
      nameserver not-an-address
      nameserver 10.0.0.4
      nameserver10.0.0.5
      search a.example b.example\r
      options ndots:2 rotate
      options timeout:1 ndots:3
      """
    let conf = ResolvConf.parse(text)
    #expect(conf.nameservers == ["10.0.0.1", "::1", "fe80::1%lo", "10.0.0.4"])
    #expect(conf.invalidNameservers == ["not-an-address"])
    #expect(conf.effectiveNameservers == ["10.0.0.1", "::1", "fe80::1%lo"])
    // The last of domain/search wins.
    #expect(conf.search == ["a.example", "b.example"])
    #expect(conf.option("ndots") == 3)
    #expect(conf.option("timeout") == 1)
    #expect(conf.hasOption("rotate"))
    #expect(ResolvConf.parse("").effectiveNameservers == ["127.0.0.1"])
    #expect(ResolvConf.parse("search x.example\ndomain y.example\n").search == ["y.example"])
  }

  @Test func nsswitchModulesAndActions() {
    let conf = NsswitchConf.parse("hosts:  files mdns4_minimal [NOTFOUND=return] dns myhostname # trailing\n#hosts: dns\n")
    #expect(conf.hosts == "files mdns4_minimal [NOTFOUND=return] dns myhostname")
    #expect(NsswitchConf.modules(conf.hosts!) == ["files", "mdns4_minimal", "dns", "myhostname"])
    #expect(NsswitchConf.modules(NsswitchConf.glibcDefaultHosts) == ["dns", "files"])
    #expect(NsswitchConf.modules("files [SUCCESS=merge NOTFOUND=continue] dns") == ["files", "dns"])
  }

  @Test func socketAddresses() throws {
    #expect(SocketAddress(parsing: "127.0.0.1")?.family == .ipv4)
    #expect(SocketAddress(parsing: "127.0.0.1")?.isLoopback == true)
    #expect(SocketAddress(parsing: "::1")?.isLoopback == true)
    #expect(SocketAddress(parsing: "10.255.255.53")?.isLoopback == false)
    #expect(SocketAddress(parsing: "2001:db8::53")?.host == "2001:db8::53")
    #expect(SocketAddress(parsing: "[::1]") == nil)
    #expect(SocketAddress(parsing: "host.example") == nil)
    #expect(try #require(SocketAddress(parsing: "::1")).description == "[::1]:53")
  }
}

/// The DNS wire format, against responses captured from dnsmasq 2.90 (Debian 12) running with
/// `--no-resolv --no-hosts --address=/test.culprit/127.0.0.42 --address=/test.culprit/::42
/// --address=/nx.culprit/` on 127.0.0.1 in a network namespace of its own, asked by a Python UDP
/// socket on 2026-11-22.
@Suite struct DNSWireTests {
  static func bytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
      let next = hex.index(index, offsetBy: 2)
      out.append(UInt8(hex[index..<next], radix: 16)!)
      index = next
    }
    return out
  }

  @Test func encodesQueriesAsDnsmasqWasAsked() throws {
    // The question part of the captured responses is the query we sent.
    let query = try #require(DNSWire.query(id: 0x1234, name: "test.culprit", type: .a))
    #expect(query == DNSWireTests.bytes("123401000001000000000000" + "04746573740763756c7072697400" + "00010001"))
    let root = try #require(DNSWire.query(id: 0x1236, name: ".", type: .ns))
    #expect(root == DNSWireTests.bytes("123601000001000000000000" + "00" + "00020001"))
    #expect(DNSWire.query(id: 1, name: "absolute.example.", type: .a) == DNSWire.query(id: 1, name: "absolute.example", type: .a))
    #expect(DNSWire.query(id: 1, name: "a..b", type: .a) == nil)
    #expect(DNSWire.query(id: 1, name: String(repeating: "x", count: 64), type: .a) == nil)
  }

  @Test func readsAnswers() throws {
    let a = try #require(DNSWire.parseResponse(DNSWireTests.bytes(
      "12348580000100010000000004746573740763756c707269740000010001c00c000100010000000000047f00002a")))
    #expect(a.id == 0x1234 && a.rcode == 0 && a.answerCount == 1 && !a.truncated)
    #expect(a.addresses == [[127, 0, 0, 42]])
    let aaaa = try #require(DNSWire.parseResponse(DNSWireTests.bytes(
      "12358580000100010000000004746573740763756c7072697400001c0001c00c001c000100000000001000000000000000000000000000000042")))
    #expect(aaaa.addresses == [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42]])
    #expect(SocketAddress(family: .ipv6, bytes: aaaa.addresses[0]).host == "::42")
  }

  @Test func readsRefusedAndNXDOMAIN() throws {
    let refused = try #require(DNSWire.parseResponse(DNSWireTests.bytes("1236818500010000000000000000020001")))
    #expect(refused.rcodeName == "REFUSED" && refused.addresses.isEmpty)
    let nx = try #require(DNSWire.parseResponse(DNSWireTests.bytes("123781830001000000000000026e780763756c707269740000010001")))
    #expect(nx.rcodeName == "NXDOMAIN")
    // A query (QR clear) and a truncated packet are not responses.
    #expect(DNSWire.parseResponse(try #require(DNSWire.query(id: 7, name: "x", type: .a))) == nil)
    #expect(DNSWire.parseResponse([0x12, 0x34, 0x81]) == nil)
  }

  @Test func searchListCandidates() {
    #expect(NameserverCheck.candidates(for: "db", search: ["ns.svc.cluster.local", "svc.cluster.local"], ndots: 5)
      == ["db.ns.svc.cluster.local", "db.svc.cluster.local", "db"])
    #expect(NameserverCheck.candidates(for: "example.com", search: ["corp.example"], ndots: 1) == ["example.com", "example.com.corp.example"])
    #expect(NameserverCheck.candidates(for: "example.com.", search: ["corp.example"], ndots: 5) == ["example.com"])
  }
}
