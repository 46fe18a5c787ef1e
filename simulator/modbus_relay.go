package simulator

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// relay accepts the clients of controller id's Modbus server and serves
// each through serveClient.
func (s *ModbusServer) relay(f *Fleet, id int, inner string) {
	for {
		c, err := s.front.Accept()
		if err != nil {
			return
		}
		go serveClient(f, id, c, inner)
	}
}

// serveClient passes a client's requests to the library's server and its
// replies back, a whole frame at a time, as the controller's behaviour
// says: a one-at-a-time server drops a request that arrives while it
// answers one; a distant one sends each reply Latency after its request
// arrived. Under modbus_cut a reply is cut off after 5 bytes and the
// connection closed.
func serveClient(f *Fleet, id int, c net.Conn, inner string) {
	defer func() { _ = c.Close() }()
	up, err := net.Dial("tcp", inner)
	if err != nil {
		return
	}
	defer func() { _ = up.Close() }()
	b := f.modbusBehaviour(id)
	arrived := make(chan time.Time, 256) // of each request passed on, in order: the library answers in order
	var busy atomic.Bool
	go func() {
		defer func() { _ = up.Close() }()
		in := bufio.NewReader(c)
		for {
			req, err := readFrame(in)
			if err != nil {
				return
			}
			if b.OneAtATime && busy.Load() {
				continue // dropped: it came while the server was answering
			}
			busy.Store(true)
			arrived <- time.Now()
			if _, err := up.Write(req); err != nil {
				return
			}
			if b.OneAtATime {
				// What came together with it (a pipelining client's burst)
				// came while the server was busy with it: dropped too.
				_, _ = in.Discard(in.Buffered())
			}
		}
	}()
	for {
		rep, err := readFrame(up)
		if err != nil {
			return
		}
		time.Sleep(time.Until((<-arrived).Add(b.Latency)))
		if spec := f.faults[id].Load(); spec != nil && spec.Mode == ModbusCut {
			_, _ = c.Write(rep[:5])
			return
		}
		busy.Store(false) // done with it: the client may send the next request as soon as it has the reply
		if _, err := c.Write(rep); err != nil {
			return
		}
	}
}

// readFrame reads one Modbus TCP frame: the MBAP header and what its
// length says follows.
func readFrame(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 7, 260)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	n := int(hdr[4])<<8 | int(hdr[5])
	if n < 2 || n > 254 {
		return nil, errors.New("not a Modbus TCP frame")
	}
	frame := hdr[:7+n-1]
	_, err := io.ReadFull(r, frame[7:])
	return frame, err
}
