/// The seam just above the kernel: something that sends netlink requests and receives datagrams.
///
/// `MnlSocket` is the real one; tests supply recorded kernel answers through their own conforming type.
package protocol NetlinkTransport: AnyObject {
    /// The socket's netlink port id, which every reply must carry.
    var portID: UInt32 { get }
    /// Sends one request message.
    func send(_ message: [UInt8]) throws(NetlinkError)
    /// Receives one datagram into `buffer` (which is large enough for any datagram) and returns its length.
    func receive(into buffer: inout [UInt8]) throws(NetlinkError) -> Int
}
