// A malformed workload: which file, which field, what was expected.

/// A workload file that cannot be used. Exit code 2.
public struct WorkloadError: Error, CustomStringConvertible, Equatable {
    /// The file.
    public var file: String
    /// The field's path ("mix[2].weight"); empty for the whole file.
    public var field: String
    /// What is wrong and what is expected.
    public var problem: String

    /// An error.
    public init(file: String, field: String, problem: String) {
        self.file = file
        self.field = field
        self.problem = problem
    }

    /// "FILE: field 'F': PROBLEM".
    public var description: String {
        field.isEmpty ? "\(file): \(problem)" : "\(file): field '\(field)': \(problem)"
    }
}
