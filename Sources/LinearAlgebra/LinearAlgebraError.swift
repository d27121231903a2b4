/// Why a linear-algebra call could not produce a result.
///
/// Each description names the operation and says what the caller can change, because these errors surface
/// in the CLI as the final message a user sees.
public enum LinearAlgebraError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The operand shapes do not fit together; the associated text states the shapes involved.
    case dimensionMismatch(String)
    /// A dimension or leading dimension exceeds `Int32.max`, the largest size CBLAS and LAPACKE take.
    case tooLargeForBLAS(operation: String, dimension: Int)
    /// LU factorisation found an exactly zero pivot, or the reciprocal condition number is below machine epsilon.
    case singular(operation: String)
    /// Cholesky (`dpotrf`/`dposv`) stopped because the leading minor of this order is not positive.
    case notPositiveDefinite(minorOrder: Int)
    /// An iterative LAPACK routine (SVD, eigenvalues, least squares) reported `info > 0`.
    case didNotConverge(operation: String)
    /// LAPACKE reported `info < 0`: argument `-info` was rejected. LAPACKE's NaN check lands here too.
    case invalidArgument(operation: String, info: Int)
    /// A routine that reads only one triangle was given a matrix that is not symmetric, so the result would
    /// silently describe a different matrix.
    case notSymmetric(operation: String)

    public var description: String {
        switch self {
        case .dimensionMismatch(let detail):
            return "Dimension mismatch: \(detail). Check the input shapes (rows × columns) and any transpose options."
        case .tooLargeForBLAS(let operation, let dimension):
            return "\(operation): dimension \(dimension) exceeds \(Int32.max), the largest size OpenBLAS/LAPACKE "
                + "accept (32-bit integers). Process the data in smaller blocks, e.g. fewer time bins or units per call."
        case .singular(let operation):
            return "\(operation): the matrix is singular to working precision, so there is no unique solution. "
                + "Look for constant, duplicated or linearly dependent columns (e.g. silent units), "
                + "or use leastSquares, which handles rank deficiency."
        case .notPositiveDefinite(let minorOrder):
            return "The matrix is not positive definite: its leading minor of order \(minorOrder) is not positive. "
                + "Covariance matrices from fewer samples than variables, or with constant or duplicated channels, "
                + "are only semi-definite; remove those channels or add a small ridge (λ·I) to the diagonal."
        case .didNotConverge(let operation):
            return "\(operation) did not converge. Check the input for extreme magnitudes; rescaling "
                + "(e.g. z-scoring each unit) usually helps."
        case .invalidArgument(let operation, let info):
            if info == -1010 || info == -1011 {
                return "\(operation): LAPACKE could not allocate its workspace (out of memory). "
                    + "Process the data in smaller blocks."
            }
            return "\(operation): LAPACK rejected argument \(-info) (info = \(info)). For a matrix argument this "
                + "almost always means it contains NaN or infinity; clean or mask non-finite values first."
        case .notSymmetric(let operation):
            return "\(operation): the matrix is not symmetric, but this routine reads only one triangle. "
                + "Symmetrise it, e.g. (A + Aᵀ)/2, or use the general routine."
        }
    }
}
