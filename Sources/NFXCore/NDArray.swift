/// A dense n-dimensional array in row-major (C) order: the last index varies fastest.
///
/// This is the currency between file formats (HDF5, NumPy) and the analyses: a shape and one contiguous buffer,
/// so that data can go to BLAS or to disk without copying element by element.
public struct NDArray<Element>: Sendable where Element: Sendable {
    public var shape: [Int]
    public var elements: [Element]

    /// Wraps `elements`, which must hold exactly `shape.reduce(1, *)` values in row-major order.
    public init(shape: [Int], elements: [Element]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "NDArray: negative extent in shape \(shape)")
        precondition(shape.reduce(1, *) == elements.count,
                     "NDArray: shape \(shape) needs \(shape.reduce(1, *)) elements, got \(elements.count)")
        self.shape = shape
        self.elements = elements
    }

    public init(shape: [Int], repeating value: Element) {
        self.init(shape: shape, elements: Array(repeating: value, count: shape.reduce(1, *)))
    }

    public var rank: Int { shape.count }
    public var count: Int { elements.count }
    public var isEmpty: Bool { elements.isEmpty }

    /// Row-major strides, in elements.
    public var strides: [Int] {
        var strides = Array(repeating: 1, count: shape.count)
        var step = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = step
            step *= shape[axis]
        }
        return strides
    }

    public subscript(index: Int...) -> Element {
        get { elements[offset(index)] }
        set { elements[offset(index)] = newValue }
    }

    private func offset(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "NDArray: \(index.count) indices for rank \(shape.count)")
        var offset = 0
        for (axis, i) in index.enumerated() {
            precondition(i >= 0 && i < shape[axis], "NDArray: index \(i) out of range 0..<\(shape[axis])")
            offset = offset * shape[axis] + i
        }
        return offset
    }

    /// The same values with the axes in reverse order (for 2-D, the transpose), still row-major.
    public func reversedAxes() -> NDArray {
        guard rank > 1, !isEmpty else { return NDArray(shape: shape.reversed(), elements: elements) }
        let inputStrides = strides
        let outputShape = Array(shape.reversed())
        var output = [Element]()
        output.reserveCapacity(count)
        if rank == 2 {
            let rows = shape[0], columns = shape[1]
            for column in 0..<columns {
                for row in 0..<rows { output.append(elements[row * columns + column]) }
            }
            return NDArray(shape: outputShape, elements: output)
        }
        // General case: walk output indices in row-major order; input offset uses reversed strides.
        let reversedStrides = Array(inputStrides.reversed())
        var index = Array(repeating: 0, count: rank)
        for _ in 0..<count {
            var offset = 0
            for axis in 0..<rank { offset += index[axis] * reversedStrides[axis] }
            output.append(elements[offset])
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < outputShape[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return NDArray(shape: outputShape, elements: output)
    }

    public func map<T>(_ transform: (Element) throws -> T) rethrows -> NDArray<T> {
        NDArray<T>(shape: shape, elements: try elements.map(transform))
    }
}

extension NDArray: Equatable where Element: Equatable {}

extension NDArray where Element: BinaryFloatingPoint {
    /// The number of NaN and infinite entries, for input validation.
    public func nonFiniteCounts() -> (nan: Int, infinite: Int) {
        var nan = 0, infinite = 0
        for value in elements where !value.isFinite {
            if value.isNaN { nan += 1 } else { infinite += 1 }
        }
        return (nan, infinite)
    }
}

/// The number of elements of a shape, or nil when it overflows Int (a corrupt or hostile header).
public func checkedElementCount(_ shape: [Int]) -> Int? {
    var total = 1
    for extent in shape {
        guard extent >= 0 else { return nil }
        let (product, overflow) = total.multipliedReportingOverflow(by: extent)
        if overflow { return nil }
        total = product
    }
    return total
}

/// "3 × 4 × 5", the way shapes are shown to users.
public func describeShape(_ shape: [Int]) -> String {
    shape.isEmpty ? "scalar" : shape.map(String.init).joined(separator: " × ")
}

/// The transpose of a row-major rows × columns array (columns × rows). Inlinable so that the element loop is
/// specialised in the hot loops that call it (factor layouts in NMF and CP).
@inlinable
public func transposeRowMajor<T>(_ values: [T], rows: Int, columns: Int) -> [T] {
    precondition(values.count == rows * columns, "transposeRowMajor: \(values.count) values for \(rows) × \(columns)")
    guard let first = values.first else { return [] }
    var result = [T](repeating: first, count: values.count)
    values.withUnsafeBufferPointer { source in
        result.withUnsafeMutableBufferPointer { target in
            for row in 0..<rows {
                for column in 0..<columns { target[column * rows + row] = source[row * columns + column] }
            }
        }
    }
    return result
}
