/// The k-th smallest value of `values` (0-based), in expected linear time: Hoare's quickselect with the
/// median of three as pivot, partitioning `values` in place (their order afterwards is unspecified). Equal to
/// `values.sorted()[k]`, for medians of long arrays where a full sort is the cost (MAD noise levels).
public func selectNth(_ values: inout [Double], _ k: Int) -> Double {
    precondition(k >= 0 && k < values.count, "selectNth: \(k) of \(values.count) values")
    return values.withUnsafeMutableBufferPointer { a in
        var (low, high) = (0, a.count - 1)
        while high > low {
            let middle = low + (high - low) / 2
            // Median of three into a[middle], the smaller at a[low] and the larger at a[high] (sentinels).
            if a[middle] < a[low] { a.swapAt(middle, low) }
            if a[high] < a[low] { a.swapAt(high, low) }
            if a[high] < a[middle] { a.swapAt(high, middle) }
            let pivot = a[middle]
            var (i, j) = (low, high)
            while i <= j {
                while a[i] < pivot { i += 1 }
                while pivot < a[j] { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { high = j } else if k >= i { low = i } else { return a[k] }
        }
        return a[k]
    }
}
