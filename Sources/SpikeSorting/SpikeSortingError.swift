/// Why a recording could not be sorted, phrased so that a user can act on it.
public enum SpikeSortingError: Error, CustomStringConvertible, Equatable {
    case invalidOption(flag: String, message: String)
    case invalidRecording(String)
    /// A spike train's sample indices and unit labels differ in length (`train` names which one).
    case spikeLabelCountMismatch(train: String, samples: Int, labels: Int)
    /// Unit labels must be ≥ 0.
    case negativeUnitLabel(train: String, label: Int32)
    /// The sampling rate (Hz) must be finite and > 0.
    case nonPositiveSamplingRate(Double)

    public var description: String {
        switch self {
        case let .invalidOption(_, message): message
        case let .invalidRecording(message): message
        case let .spikeLabelCountMismatch(train, samples, labels):
            "\(train): \(samples) spike sample indices but \(labels) unit labels; they must pair one to one"
        case let .negativeUnitLabel(train, label):
            "\(train): unit label \(label) is negative; labels must be ≥ 0"
        case let .nonPositiveSamplingRate(rate):
            "sampling rate \(rate) Hz must be finite and > 0"
        }
    }
}
