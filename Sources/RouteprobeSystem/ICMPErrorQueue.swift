// A socket's error queue (IP_RECVERR / IPV6_RECVERR): the ICMP error that ended a connection attempt. The
// control messages are walked by hand: CMSG_* are macros Swift cannot import.
import RouteprobeCore
#if canImport(Glibc)
import Glibc
#endif

extension OwnedDescriptor {
    /// The ICMP error queued on the socket, with the address of the router or host that sent it; nil when
    /// none is queued.
    package func queuedICMPError() -> ICMPErrorReport? {
        var data = [UInt8](repeating: 0, count: 64)
        var control = [UInt8](repeating: 0, count: 512)
        let fd = self.fd
        return data.withUnsafeMutableBytes { dataBytes -> ICMPErrorReport? in
            control.withUnsafeMutableBytes { controlBytes -> ICMPErrorReport? in
                var vector = iovec(iov_base: dataBytes.baseAddress, iov_len: dataBytes.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer -> ICMPErrorReport? in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    guard (try? systemCall("recvmsg(MSG_ERRQUEUE)", { recvmsg(fd, &message, Int32(MSG_ERRQUEUE) | Int32(MSG_DONTWAIT)) })) != nil else {
                        return nil
                    }
                    return OwnedDescriptor.icmpError(in: UnsafeRawBufferPointer(controlBytes), length: Int(message.msg_controllen))
                }
            }
        }
    }

    private static func icmpError(in control: UnsafeRawBufferPointer, length total: Int) -> ICMPErrorReport? {
        var offset = 0
        let headerSize = MemoryLayout<cmsghdr>.size
        while offset + headerSize <= total {
            let header = control.loadUnaligned(fromByteOffset: offset, as: cmsghdr.self)
            let length = Int(header.cmsg_len)
            guard length >= headerSize, offset + length <= total else { return nil }
            let isIPv4 = header.cmsg_level == SOL_IP && header.cmsg_type == 11 /* IP_RECVERR */
            let isIPv6 = header.cmsg_level == SOL_IPV6 && header.cmsg_type == 25 /* IPV6_RECVERR */
            if isIPv4 || isIPv6 {
                // struct sock_extended_err (16 bytes), then the offender's sockaddr.
                let payload = offset + ((headerSize + 7) & ~7)
                guard payload + 16 <= offset + length else { return nil }
                let origin = control[payload + 4]
                let type = control[payload + 5], code = control[payload + 6]
                guard origin == 2 || origin == 3 else { return nil } // SO_EE_ORIGIN_ICMP / ICMP6
                let addressStart = payload + 16
                var storage = sockaddr_storage()
                let available = min(MemoryLayout<sockaddr_storage>.size, offset + length - addressStart)
                guard available > 0 else { return nil }
                withUnsafeMutableBytes(of: &storage) { raw in
                    for index in 0..<available { raw[index] = control[addressStart + index] }
                }
                guard let from = SocketAddress(storage)?.ipAddress else { return nil }
                return ICMPErrorReport(from: from, type: type, code: code, isICMPv6: origin == 3)
            }
            offset += (length + 7) & ~7
        }
        return nil
    }
}
