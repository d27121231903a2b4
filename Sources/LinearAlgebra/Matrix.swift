import NFXCore

/// A dense row-major matrix of Float64: `elements[row * columns + column]`.
///
/// Row-major matches HDF5 and NumPy on disk, so a units × time dataset becomes a Matrix without copying;
/// BLAS and LAPACK are called with `CblasRowMajor` / `LAPACK_ROW_MAJOR`.
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    public var elements: [Double]

    public init(rows: Int, columns: Int, elements: [Double]) {
        precondition(rows >= 0 && columns >= 0, "Matrix: negative size \(rows) × \(columns)")
        precondition(elements.count == rows * columns,
                     "Matrix: \(rows) × \(columns) needs \(rows * columns) elements, got \(elements.count)")
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    public init(rows: Int, columns: Int, repeating value: Double = 0) {
        self.init(rows: rows, columns: columns, elements: Array(repeating: value, count: rows * columns))
    }

    /// Builds a matrix from nested rows, for tests and small literals.
    public init(_ rowValues: [[Double]]) {
        let columns = rowValues.first?.count ?? 0
        precondition(rowValues.allSatisfy { $0.count == columns }, "Matrix: rows of unequal length")
        self.init(rows: rowValues.count, columns: columns, elements: rowValues.flatMap { $0 })
    }

    public init(_ array: NDArray<Double>) {
        precondition(array.rank == 2, "Matrix: a \(array.rank)-D array is not a matrix")
        self.init(rows: array.shape[0], columns: array.shape[1], elements: array.elements)
    }

    public static func identity(_ size: Int) -> Matrix {
        var matrix = Matrix(rows: size, columns: size)
        for i in 0..<size { matrix.elements[i * size + i] = 1 }
        return matrix
    }

    public var ndarray: NDArray<Double> { NDArray(shape: [rows, columns], elements: elements) }
    public var isSquare: Bool { rows == columns }

    public subscript(row: Int, column: Int) -> Double {
        get { elements[row * columns + column] }
        set { elements[row * columns + column] = newValue }
    }

    public func row(_ index: Int) -> ArraySlice<Double> {
        elements[index * columns..<(index + 1) * columns]
    }

    public func column(_ index: Int) -> [Double] {
        (0..<rows).map { elements[$0 * columns + index] }
    }

    public var transposed: Matrix {
        var result = Matrix(rows: columns, columns: rows)
        for r in 0..<rows {
            for c in 0..<columns { result.elements[c * rows + r] = elements[r * columns + c] }
        }
        return result
    }
}
