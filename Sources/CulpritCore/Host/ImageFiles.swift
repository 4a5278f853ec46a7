#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The files `--containers` makes an image from: a tar of a root filesystem holding only
/// culprit's own binary, an OCI image layout archive around it (for `ctr images import`), and
/// SHA-256 for the layout's digests. No registry, no Foundation.
public enum ImageFiles {
  /// A tar entry: a directory or a regular file.
  public struct Entry {
    public var name: String
    public var mode: Int
    public var contents: [UInt8]?

    public static func directory(_ name: String, mode: Int = 0o755) -> Entry { Entry(name: name, mode: mode, contents: nil) }
    public static func file(_ name: String, _ contents: [UInt8], mode: Int = 0o644) -> Entry { Entry(name: name, mode: mode, contents: contents) }
  }

  /// A POSIX ustar archive of `entries` (owner 0:0, mtime 0: the same input gives the same bytes).
  public static func tar(_ entries: [Entry]) -> [UInt8] {
    var out: [UInt8] = []
    for entry in entries {
      var header = [UInt8](repeating: 0, count: 512)
      func put(_ text: String, at offset: Int, width: Int) {
        for (i, byte) in text.utf8.prefix(width).enumerated() { header[offset + i] = byte }
      }
      func octal(_ value: Int, at offset: Int, width: Int) {
        var digits = String(value, radix: 8)
        while digits.count < width - 1 { digits = "0" + digits }
        put(digits, at: offset, width: width - 1)
      }
      let name = entry.contents == nil && !entry.name.hasSuffix("/") ? entry.name + "/" : entry.name
      put(name, at: 0, width: 100)
      octal(entry.mode, at: 100, width: 8)
      octal(0, at: 108, width: 8)
      octal(0, at: 116, width: 8)
      octal(entry.contents?.count ?? 0, at: 124, width: 12)
      octal(0, at: 136, width: 12)
      for i in 148..<156 { header[i] = 0x20 }
      header[156] = entry.contents == nil ? UInt8(ascii: "5") : UInt8(ascii: "0")
      put("ustar", at: 257, width: 6)
      put("00", at: 263, width: 2)
      put("root", at: 265, width: 32)
      put("root", at: 297, width: 32)
      let sum = header.reduce(0) { $0 + Int($1) }
      var digits = String(sum, radix: 8)
      while digits.count < 6 { digits = "0" + digits }
      put(digits, at: 148, width: 6)
      header[154] = 0
      header[155] = 0x20
      out += header
      if let contents = entry.contents {
        out += contents
        let pad = (512 - contents.count % 512) % 512
        out += [UInt8](repeating: 0, count: pad)
      }
    }
    out += [UInt8](repeating: 0, count: 1024)
    return out
  }

  /// The root filesystem of the image: /culprit and the mount points runtimes expect.
  public static func rootfsEntries(binary: [UInt8]) -> [Entry] {
    [.directory("proc"), .directory("sys"), .directory("dev"), .directory("etc"), .directory("tmp", mode: 0o1777),
     .file("culprit", binary, mode: 0o755)]
  }

  /// An OCI image layout (oci-layout, index.json, blobs/sha256/…) as a tar, with one
  /// uncompressed layer `layer`, named `reference` (io.containerd.image.name) for ctr.
  public static func ociArchive(layer: [UInt8], reference: String, architecture: String) -> [UInt8] {
    let layerDigest = "sha256:" + SHA256.hex(layer)
    let config: JSONValue = [
      "architecture": .string(architecture), "os": "linux",
      "config": ["Entrypoint": ["/culprit"]],
      "rootfs": ["type": "layers", "diff_ids": .array([.string(layerDigest)])],
    ]
    let configBytes = Array(config.serialized(pretty: false).utf8)
    let configDigest = "sha256:" + SHA256.hex(configBytes)
    let manifest: JSONValue = [
      "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
      "config": ["mediaType": "application/vnd.oci.image.config.v1+json", "digest": .string(configDigest), "size": .int(configBytes.count)],
      "layers": .array([["mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": .string(layerDigest), "size": .int(layer.count)]]),
    ]
    let manifestBytes = Array(manifest.serialized(pretty: false).utf8)
    let manifestDigest = "sha256:" + SHA256.hex(manifestBytes)
    let index: JSONValue = [
      "schemaVersion": 2,
      "manifests": .array([[
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": .string(manifestDigest), "size": .int(manifestBytes.count),
        "annotations": ["io.containerd.image.name": .string(reference), "org.opencontainers.image.ref.name": "latest"],
      ]]),
    ]
    func blob(_ digest: String) -> String { "blobs/sha256/" + digest.dropFirst(7) }
    return tar([
      .file("oci-layout", Array("{\"imageLayoutVersion\":\"1.0.0\"}".utf8)),
      .file("index.json", Array(index.serialized(pretty: false).utf8)),
      .directory("blobs"), .directory("blobs/sha256"),
      .file(blob(manifestDigest), manifestBytes), .file(blob(configDigest), configBytes), .file(blob(layerDigest), layer),
    ])
  }

  /// Whether an ELF file asks for a program interpreter (PT_INTERP): a dynamically linked
  /// binary, which cannot run in an image that holds nothing else. Nil when it is not a 64-bit ELF.
  public static func isDynamicELF(_ bytes: [UInt8]) -> Bool? {
    guard bytes.count >= 64, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46, bytes[4] == 2 else { return nil }
    func u(_ at: Int, _ width: Int) -> Int {
      var value = 0
      for i in (0..<width).reversed() { value = value << 8 | Int(bytes[at + i]) }
      return value
    }
    let phoff = u(32, 8), phentsize = u(54, 2), phnum = u(56, 2)
    guard phentsize >= 4 else { return nil }
    for i in 0..<phnum {
      let at = phoff + i * phentsize
      guard at + 4 <= bytes.count else { return nil }
      if u(at, 4) == 3 { return true }
    }
    return false
  }
}

/// SHA-256 (FIPS 180-4), for the OCI layout's content digests.
public enum SHA256 {
  static let k: [UInt32] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]

  public static func digest(_ message: [UInt8]) -> [UInt8] {
    var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    var data = message
    let bitLength = UInt64(message.count) * 8
    data.append(0x80)
    while data.count % 64 != 56 { data.append(0) }
    for i in (0..<8).reversed() { data.append(UInt8(truncatingIfNeeded: bitLength >> (UInt64(i) * 8))) }
    var w = [UInt32](repeating: 0, count: 64)
    func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
    data.withUnsafeBufferPointer { bytes in
      for chunk in stride(from: 0, to: bytes.count, by: 64) {
        for t in 0..<16 {
          let i = chunk + t * 4
          w[t] = UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
        }
        for t in 16..<64 {
          let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
          let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
          w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
        }
        var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
        for t in 0..<64 {
          let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
          let ch = (e & f) ^ (~e & g)
          let t1 = hh &+ s1 &+ ch &+ k[t] &+ w[t]
          let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
          let maj = (a & b) ^ (a & c) ^ (b & c)
          let t2 = s0 &+ maj
          hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
        }
        h[0] = h[0] &+ a; h[1] = h[1] &+ b; h[2] = h[2] &+ c; h[3] = h[3] &+ d
        h[4] = h[4] &+ e; h[5] = h[5] &+ f; h[6] = h[6] &+ g; h[7] = h[7] &+ hh
      }
    }
    return h.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * UInt32($0))) } }
  }

  public static func hex(_ message: [UInt8]) -> String {
    let digits = Array("0123456789abcdef")
    return String(digest(message).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
  }
}
