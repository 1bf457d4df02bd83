// A fixed machine for result documents built in tests: the model's tests
// need no facts of the machine they run on.
import ResultModel

extension EnvironmentInfo {
    /// A made-up machine.
    static let fixture = EnvironmentInfo(hostname: "test", kernel: "6.18.0-test", libfuse: "3.14.0",
                                         cpuModel: "test CPU", cpuCount: 2, memoryBytes: 1 << 34)
}
