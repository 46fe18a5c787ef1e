package admission

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// sent says whether c's client has sent anything the exporter has not read
// yet (bytes in the socket's receive queue): a connection without is a
// slow or silent client, one with is a request waiting for the exporter.
func sent(c net.Conn) bool {
	if t, ok := c.(interface{ NetConn() net.Conn }); ok { // TLS
		c = t.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	n := 1
	_ = raw.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCINQ); err == nil {
			n = v
		}
	})
	return n > 0
}
