// The tool's name and version.
enum ToolInfo {
    static let version = "0.1.0"
}
