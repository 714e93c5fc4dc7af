// Datagrams in batches: one sendmmsg(2) for many datagrams, one recvmmsg(2) for what is queued. A probe run
// sends a thousand echo requests and reads a thousand replies; a system call per batch instead of one per
// packet is what lets routeprobe keep pace with fping while doing more per target.
internal import CLinux
import RouteprobeCore
#if canImport(Glibc)
import Glibc
#endif

extension OwnedDescriptor {
    /// Sends `datagrams` without waiting, as many as the kernel takes in one call: the count sent (at least 1),
    /// or the failure of the first one (EAGAIN or ENOBUFS when the queue is full).
    package func send(_ datagrams: ArraySlice<(bytes: [UInt8], to: SocketAddress)>) throws(SystemError) -> Int {
        let count = datagrams.count
        guard count > 0 else { return 0 }
        // The payloads in one buffer, the addresses in another: every pointer the headers hold stays valid
        // for the one call.
        var payload: [UInt8] = []
        var offsets: [Int] = []
        offsets.reserveCapacity(count)
        for datagram in datagrams {
            offsets.append(payload.count)
            payload += datagram.bytes
        }
        var addresses = [sockaddr_storage](repeating: sockaddr_storage(), count: count)
        var addressLengths = [socklen_t](repeating: 0, count: count)
        for (slot, datagram) in datagrams.enumerated() {
            addressLengths[slot] = datagram.to.withSockaddr { raw, length in
                withUnsafeMutableBytes(of: &addresses[slot]) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: Int(length)))
                }
                return length
            } ?? 0
        }
        let lengths = datagrams.map(\.bytes.count)
        let fd = self.fd
        var vectors = [iovec](repeating: iovec(), count: count)
        var headers = [routeprobe_mmsghdr](repeating: routeprobe_mmsghdr(), count: count)
        // The closures cannot throw a typed error: they hand back the call's result and errno.
        let (sent, code) = payload.withUnsafeMutableBytes { (payloadBytes) -> (Int32, Int32) in
            addresses.withUnsafeMutableBufferPointer { (addressBuffer) -> (Int32, Int32) in
                vectors.withUnsafeMutableBufferPointer { (vectorBuffer) -> (Int32, Int32) in
                    for slot in 0..<count {
                        vectorBuffer[slot] = iovec(iov_base: payloadBytes.baseAddress.map { $0 + offsets[slot] }, iov_len: lengths[slot])
                        headers[slot].msg_hdr.msg_name = UnsafeMutableRawPointer(addressBuffer.baseAddress! + slot)
                        headers[slot].msg_hdr.msg_namelen = UInt32(addressLengths[slot])
                        headers[slot].msg_hdr.msg_iov = UnsafeMutableRawPointer(vectorBuffer.baseAddress! + slot)
                        headers[slot].msg_hdr.msg_iovlen = 1
                    }
                    var result: Int32
                    repeat { result = sendmmsg(fd, &headers, UInt32(count), Int32(MSG_DONTWAIT)) } while result < 0 && errno == EINTR
                    return (result, result < 0 ? errno : 0)
                }
            }
        }
        if sent < 0 { throw SystemError.systemCall(call: "sendmmsg", errno: code) }
        return Int(sent)
    }

    /// Receives what is queued, without waiting, in one call: up to `buffer.count / slotSize` datagrams, the
    /// n-th into `buffer[n * slotSize ..< (n + 1) * slotSize]`. Each one's length and sender, in order; empty
    /// when nothing is queued.
    package func receive(into buffer: inout [UInt8], slotSize: Int) throws(SystemError) -> [(length: Int, sender: SocketAddress?)] {
        let count = slotSize > 0 ? buffer.count / slotSize : 0
        guard count > 0 else { return [] }
        var addresses = [sockaddr_storage](repeating: sockaddr_storage(), count: count)
        var vectors = [iovec](repeating: iovec(), count: count)
        var headers = [routeprobe_mmsghdr](repeating: routeprobe_mmsghdr(), count: count)
        let fd = self.fd
        let (received, code) = buffer.withUnsafeMutableBytes { (bytes) -> (Int32, Int32) in
                addresses.withUnsafeMutableBufferPointer { (addressBuffer) -> (Int32, Int32) in
                    vectors.withUnsafeMutableBufferPointer { (vectorBuffer) -> (Int32, Int32) in
                        for slot in 0..<count {
                            vectorBuffer[slot] = iovec(iov_base: bytes.baseAddress.map { $0 + slot * slotSize }, iov_len: slotSize)
                            headers[slot].msg_hdr.msg_name = UnsafeMutableRawPointer(addressBuffer.baseAddress! + slot)
                            headers[slot].msg_hdr.msg_namelen = UInt32(MemoryLayout<sockaddr_storage>.size)
                            headers[slot].msg_hdr.msg_iov = UnsafeMutableRawPointer(vectorBuffer.baseAddress! + slot)
                            headers[slot].msg_hdr.msg_iovlen = 1
                        }
                        var result: Int32
                        repeat { result = recvmmsg(fd, &headers, UInt32(count), Int32(MSG_DONTWAIT), nil) } while result < 0 && errno == EINTR
                        return (result, result < 0 ? errno : 0)
                    }
                }
            }
        if received < 0 {
            if code == EAGAIN { return [] }
            throw SystemError.systemCall(call: "recvmmsg", errno: code)
        }
        return (0..<Int(received)).map { slot in (Int(headers[slot].msg_len), SocketAddress(addresses[slot])) }
    }
}
