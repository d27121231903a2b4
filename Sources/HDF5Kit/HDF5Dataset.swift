import CHDF5
import Foundation
import NFXCore

/// A dataset's shape, element type and storage, as `nfx info` shows them.
public struct HDF5StorageInfo: Sendable, Equatable {
    public let shape: [Int]
    public let elementType: HDF5ElementType
    /// Chunk shape, or nil for contiguous or compact storage.
    public let chunks: [Int]?
    /// Filters in pipeline order, e.g. ["shuffle", "gzip(4)"].
    public let filters: [String]
    /// Filters in the pipeline that this libhdf5 cannot run.
    public var unavailableFilters: [String] = []
}

/// An n-dimensional array stored in an HDF5 file.
public final class HDF5Dataset: HDF5AttributeHolder, @unchecked Sendable {
    public let filePath: String
    public let objectPath: String
    public let handle: HDF5Handle
    let file: HDF5Handle
    public let storageInfo: HDF5StorageInfo

    public var shape: [Int] { storageInfo.shape }
    public var elementType: HDF5ElementType { storageInfo.elementType }
    /// The number of elements; nil when it overflows Int.
    public var checkedCount: Int? { checkedElementCount(shape) }
    public var count: Int { checkedCount ?? Int.max }

    /// Throws before a read that cannot succeed: an undecodable filter, or more elements than memory holds.
    func checkReadable(elements: Int?, elementSize: Int) throws {
        if !storageInfo.unavailableFilters.isEmpty {
            throw HDF5Error.unavailableFilter(file: filePath, object: objectPath, filters: storageInfo.unavailableFilters)
        }
        let memory = Double(ProcessInfo.processInfo.physicalMemory)
        guard let elements, Double(elements) * Double(elementSize) <= 0.8 * memory else {
            throw HDF5Error.tooLarge(file: filePath, object: objectPath, shape: shape)
        }
    }

    init(filePath: String, objectPath: String, handle: HDF5Handle, file: HDF5Handle) throws {
        self.filePath = filePath
        self.objectPath = objectPath
        self.handle = handle
        self.file = file
        storageInfo = try HDF5Library.synchronized {
            let scope = HDF5Scope()
            defer { scope.close() }
            let space = scope.own(H5Dget_space(handle.id), .dataspace)
            let type = scope.own(H5Dget_type(handle.id), .datatype)
            guard space >= 0, type >= 0 else {
                throw HDF5Error.readFailed(file: filePath, object: objectPath, reason: innermostHDF5Error())
            }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            var dims = [hsize_t](repeating: 0, count: max(rank, 1))
            if rank > 0 { H5Sget_simple_extent_dims(space, &dims, nil) }
            // A null dataspace (h5py.Empty) holds nothing: shown and read as an empty vector.
            let isNull = H5Sget_simple_extent_type(space) == H5S_NULL
            let shape = isNull ? [0] : rank > 0 ? dims.prefix(rank).map { Int(clamping: $0) } : []
            var unavailable: [String] = []

            let creation = scope.own(H5Dget_create_plist(handle.id), .propertyList)
            var chunks: [Int]?
            var filters: [String] = []
            if H5Pget_layout(creation) == H5D_CHUNKED {
                var chunkDims = [hsize_t](repeating: 0, count: max(rank, 1))
                H5Pget_chunk(creation, Int32(rank), &chunkDims)
                chunks = chunkDims.prefix(rank).map { Int($0) }
                for index in 0..<max(0, H5Pget_nfilters(creation)) {
                    var flags: UInt32 = 0
                    var valueCount = 8
                    var values = [UInt32](repeating: 0, count: 8)
                    var name = [CChar](repeating: 0, count: 64)
                    var config: UInt32 = 0
                    let filter = H5Pget_filter2(creation, UInt32(index), &flags, &valueCount, &values,
                                                name.count, &name, &config)
                    if H5Zfilter_avail(filter) <= 0 {
                        let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                        unavailable.append(filter == 32000 ? "lzf" : text.isEmpty ? "filter \(filter)" : text)
                    }
                    switch filter {
                    case H5Z_FILTER_DEFLATE: filters.append("gzip(\(valueCount > 0 ? values[0] : 0))")
                    case H5Z_FILTER_SHUFFLE: filters.append("shuffle")
                    case H5Z_FILTER_FLETCHER32: filters.append("fletcher32")
                    case H5Z_FILTER_SZIP: filters.append("szip")
                    default:
                        let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                        filters.append(text.isEmpty ? "filter \(filter)" : text)
                    }
                }
            }
            return HDF5StorageInfo(shape: shape, elementType: HDF5ElementType(datatype: type), chunks: chunks,
                                   filters: filters, unavailableFilters: unavailable)
        }
    }

    /// Reads the whole dataset, converting to `T` (HDF5 converts integers to floats and between widths).
    public func read<T: HDF5Numeric>(as type: T.Type = T.self) throws -> NDArray<T> {
        guard elementType.isNumeric else {
            throw HDF5Error.unsupportedType(file: filePath, object: objectPath, type: elementType.description)
        }
        try checkReadable(elements: checkedCount, elementSize: MemoryLayout<T>.stride)
        guard count > 0 else { return NDArray(shape: shape, elements: []) }
        let values = try [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            try HDF5Library.synchronized {
                let status = H5Dread(handle.id, T.hdf5Type.nativeType, nfx_H5S_ALL(), nfx_H5S_ALL(), nfx_H5P_DEFAULT(),
                                     buffer.baseAddress)
                guard status >= 0 else {
                    throw HDF5Error.readFailed(file: filePath, object: objectPath, reason: innermostHDF5Error())
                }
            }
            initialized = count
        }
        return NDArray(shape: shape, elements: values)
    }

    /// Reads rows `rows` (a range along the first axis) and everything along the other axes: the way to stream
    /// a long recording stored time × units without holding all of it.
    public func readRows<T: HDF5Numeric>(_ rows: Range<Int>, as type: T.Type = T.self) throws -> NDArray<T> {
        guard !shape.isEmpty else {
            throw HDF5Error.invalidSelection(file: filePath, object: objectPath, reason: "a scalar has no rows")
        }
        return try readSlab([rows] + shape.dropFirst().map { 0..<$0 }, as: type)
    }

    /// Reads the block `ranges` (one range per axis), row-major: e.g. a stretch of time of every channel of a
    /// recording stored units × time.
    public func readSlab<T: HDF5Numeric>(_ ranges: [Range<Int>], as type: T.Type = T.self) throws -> NDArray<T> {
        guard elementType.isNumeric else {
            throw HDF5Error.unsupportedType(file: filePath, object: objectPath, type: elementType.description)
        }
        guard ranges.count == shape.count, !shape.isEmpty else {
            throw HDF5Error.invalidSelection(file: filePath, object: objectPath,
                                             reason: "\(ranges.count) ranges for a \(shape.count)-D dataset")
        }
        for (axis, range) in ranges.enumerated() where range.lowerBound < 0 || range.upperBound > shape[axis] {
            throw HDF5Error.invalidSelection(file: filePath, object: objectPath,
                                             reason: "\(range.lowerBound)..<\(range.upperBound) is outside 0..<\(shape[axis]) on axis \(axis)")
        }
        let outputShape = ranges.map(\.count)
        let checkedTotal = checkedElementCount(outputShape)
        try checkReadable(elements: checkedTotal, elementSize: MemoryLayout<T>.stride)
        let total = checkedTotal!
        guard total > 0 else { return NDArray(shape: outputShape, elements: []) }
        let values = try [T](unsafeUninitializedCapacity: total) { buffer, initialized in
          try HDF5Library.synchronized {
            let scope = HDF5Scope()
            defer { scope.close() }
            let fileSpace = scope.own(H5Dget_space(handle.id), .dataspace)
            let start = ranges.map { hsize_t($0.lowerBound) }
            let extent = [hsize_t](extents: outputShape)
            guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, extent, nil) >= 0 else {
                throw HDF5Error.readFailed(file: filePath, object: objectPath, reason: innermostHDF5Error())
            }
            let memorySpace = scope.own(H5Screate_simple(Int32(extent.count), extent, nil), .dataspace)
            let status = H5Dread(handle.id, T.hdf5Type.nativeType, memorySpace, fileSpace, nfx_H5P_DEFAULT(),
                                 buffer.baseAddress)
            guard status >= 0 else {
                throw HDF5Error.readFailed(file: filePath, object: objectPath, reason: innermostHDF5Error())
            }
          }
          initialized = total
        }
        return NDArray(shape: outputShape, elements: values)
    }
}
