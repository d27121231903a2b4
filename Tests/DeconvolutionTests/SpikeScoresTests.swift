import XCTest
@testable import Deconvolution

final class SpikeScoresTests: XCTestCase {
    func testPerfectInferenceScoresOne() {
        let truth: [Double] = [0, 1, 0, 0, 2, 0, 0, 0, 1, 0]
        let score = SpikeScores.score(inferred: truth, truth: truth, framesPerBin: 1.2, threshold: 0.5)
        XCTAssertEqual(score.frameCorrelation, 1, accuracy: 1e-12)
        XCTAssertEqual(score.binnedCorrelation, 1, accuracy: 1e-12)
        XCTAssertEqual(score.f1, 1)
    }

    func testOneFrameLateCountsButTwoDoNot() {
        let truth: [Double] = [0, 1, 0, 0, 0, 0, 1, 0, 0, 0]
        let late: [Double] = [0, 0, 1, 0, 0, 0, 0, 0, 1, 0]
        let score = SpikeScores.score(inferred: late, truth: truth, framesPerBin: 1, threshold: 0.5)
        XCTAssertEqual(score.trueEvents, 2)
        XCTAssertEqual(score.detectedEvents, 2)
        XCTAssertEqual(score.precision, 0.5)
        XCTAssertEqual(score.recall, 0.5)
        XCTAssertEqual(score.f1, 0.5)
    }

    func testBinsStartAtTheFirstFrame() {
        // 30 Hz, 40 ms bins: 1.2 frames per bin, so frames 0 and 1 share bin 0, frame 2 is bin 1.
        let truth: [Double] = [1, 0, 0, 0, 0, 0]
        let shifted: [Double] = [0, 1, 0, 0, 0, 0]
        let score = SpikeScores.score(inferred: shifted, truth: truth, framesPerBin: 1.2, threshold: 0.5)
        XCTAssertEqual(score.binnedCorrelation, 1, accuracy: 1e-12)
        XCTAssertLessThan(score.frameCorrelation, 0)
    }

    func testNaNFramesAreLeftOut() {
        let truth: [Double] = [0, 1, 0, 0, 1, 0]
        let inferred: [Double] = [0, 1, .nan, .nan, 1, 0]
        let score = SpikeScores.score(inferred: inferred, truth: truth, framesPerBin: 1, threshold: 0.5)
        XCTAssertEqual(score.frameCorrelation, 1, accuracy: 1e-12)
        XCTAssertEqual(score.f1, 1)
    }
}
