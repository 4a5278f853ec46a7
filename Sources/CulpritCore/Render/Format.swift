/// The output formats.
public enum OutputFormat: String, CaseIterable, Sendable {
  case text, json, markdown

  /// Renders a report in this format. `color` applies to text only.
  public func render(_ report: Report, color: Bool = false) -> String {
    switch self {
    case .text: return TextRenderer(color: color).render(report)
    case .json: return JSONRenderer.render(report)
    case .markdown: return MarkdownRenderer.render(report)
    }
  }
}

/// The report as JSON: the contract in schema/report.schema.json.
public enum JSONRenderer {
  public static func render(_ report: Report) -> String {
    report.json.serialized(pretty: true) + "\n"
  }
}

extension Status {
  /// Whether the text and Markdown formats show this probe's evidence in full.
  var showsDetails: Bool {
    switch self {
    case .degraded, .blocked, .skipped, .error: return true
    case .ok, .info: return false
    }
  }
}
