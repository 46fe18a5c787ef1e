package config

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

// MaxResponseHeaderBytes bounds the status line and header fields of a
// controller's answer, 1xx interim answers included. Real controllers send a
// few hundred bytes; 32 KiB leaves room for a reverse proxy's cookies and
// security headers, where Go's default (10 MiB) let a hostile controller
// make every probe hold megabytes.
const MaxResponseHeaderBytes = 32 << 10

// maxTLSAnswer bounds a whole answer over TLS, where the header cannot be
// told from the body: room for the largest header and body accepted, TLS
// records and read-ahead.
const maxTLSAnswer = MaxResponseHeaderBytes + collector.MaxBodySize + 64<<10

// ErrHeaderTooLarge is wrapped by the error of an answer whose header is
// longer than MaxResponseHeaderBytes (over TLS: that is longer than maxTLSAnswer).
var ErrHeaderTooLarge = errors.New("response header too large")

var (
	errHeaderTooLarge = fmt.Errorf("%w: more than %d KiB", ErrHeaderTooLarge, MaxResponseHeaderBytes>>10)
	errTLSTooLarge    = fmt.Errorf("%w: header and body more than %d KiB over TLS", ErrHeaderTooLarge, maxTLSAnswer>>10)
)

// limitHeaders makes the connections of dial refuse answers whose header is
// longer than MaxResponseHeaderBytes. prometheus/common builds the
// http.Transport and offers no way to set its MaxResponseHeaderBytes, so the
// bound is kept on the connection, which sees the plain text of HTTP. Over
// TLS it sees ciphertext: there it bounds the whole answer (maxTLSAnswer),
// which is still a tenth of Go's 10 MiB for the header alone.
func limitHeaders(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// Counting from the start: a controller may answer before it is asked.
		return &headerLimitConn{Conn: c, inHead: true, first: true}, nil
	}
}

// headerLimitConn counts the bytes of each answer's header: from the request
// the client writes to the empty line that ends the header of the final
// (non-1xx) answer. Writes and reads come from different goroutines of the
// transport.
type headerLimitConn struct {
	net.Conn
	mu      sync.Mutex
	tls     bool // a TLS handshake was written: the rest is ciphertext
	inHead  bool // reading an answer's header
	n       int  // bytes of the header (over TLS: of the answer) read so far
	col     int  // bytes of the current line so far
	lastCR  bool // the current line's last byte is '\r'
	first   bool // the current line is a status line
	interim bool // that status line is a 1xx one
}

func (c *headerLimitConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.tls = c.tls || len(p) > 0 && p[0] == 0x16 // TLS handshake record (ClientHello)
	c.inHead, c.n, c.col, c.first, c.interim = true, 0, 0, true, false
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *headerLimitConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tls {
		if c.n += n; c.n > maxTLSAnswer {
			return 0, errTLSTooLarge
		}
		return n, err
	}
	for i := 0; i < n && c.inHead; i++ {
		if c.n++; c.n > MaxResponseHeaderBytes {
			return 0, errHeaderTooLarge
		}
		b := p[i]
		if b != '\n' {
			if c.first && c.col == len("HTTP/1.1 ") {
				c.interim = b == '1'
			}
			c.col++
			c.lastCR = b == '\r'
			continue
		}
		// As net/textproto reads lines: "\n" or "\r\n" ends one.
		empty := c.col == 0 || c.col == 1 && c.lastCR
		c.col = 0
		switch {
		case c.first:
			c.first = false // the status line; header fields follow
		case empty && c.interim:
			c.first, c.interim = true, false // end of a 1xx answer; the next answer follows
		case empty:
			c.inHead = false // end of the header; the body follows
		}
	}
	return n, err
}
