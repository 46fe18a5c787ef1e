package collector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// FullStatePath is where controllers serve the whole document, below the
// target's base path.
const FullStatePath = "/rest/full_state"

// Credentials are sent as the manufacturer documents it: the literal header
// "Authorization: Basic Auth" plus Username and Password headers.
type Credentials struct {
	Username, Password string
}

// ParseTarget turns a probe target into the controller's base URL. It accepts
// "host", "host:port", "host[:port]/base/path" and
// "http(s)://host[:port][/base/path]"; a path ending in /rest/full_state is
// taken as its base path (the exporter appends /rest/full_state itself).
// Credentials in the URL are refused: they belong in a module, not in scrape
// configs and logs, and no error repeats them.
func ParseTarget(target string) (*url.URL, error) {
	s := strings.TrimSpace(target)
	if s == "" {
		return nil, errors.New("empty target")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(target, "@") {
			// url.Parse's message quotes the URL, and parts of it: a
			// password with / ? # or % in it would be shown.
			return nil, fmt.Errorf("invalid target %q: not a URL; credentials are not allowed in a target, use a module", RedactTarget(target))
		}
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("invalid target %q: %w", target, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("invalid target %q: scheme must be http or https", RedactTarget(target))
	case u.User != nil:
		return nil, fmt.Errorf("invalid target %q: credentials in the target are not allowed, use a module", RedactTarget(target))
	case u.Hostname() == "":
		return nil, fmt.Errorf("invalid target %q: no host", RedactTarget(target))
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("invalid target %q: no query or fragment allowed", RedactTarget(target))
	}
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), FullStatePath)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// RedactTarget hides anything that may be userinfo in a target, parseable
// or not: everything between the scheme and the last "@".
func RedactTarget(t string) string {
	i := strings.LastIndex(t, "@")
	if i < 0 {
		return t
	}
	scheme := ""
	if j := strings.Index(t[:i], "://"); j >= 0 {
		scheme = t[:j+3]
	}
	return scheme + "xxxxx@" + t[i+1:]
}

// StatusError is an HTTP answer other than 200 OK.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
	switch e.Code {
	case http.StatusUnauthorized, http.StatusForbidden:
		msg += " (wrong or missing credentials: check the module's username and password)"
	case http.StatusNotFound:
		msg += " (REST interface disabled on the controller, or wrong base path: the target is the controller's base URL, the exporter appends " + FullStatePath + ")"
	}
	return msg
}

// Request returns the GET request for base's full_state, with the
// manufacturer's credential headers when cred is set.
func Request(ctx context.Context, base *url.URL, cred *Credentials) (*http.Request, error) {
	u := *base
	u.Path += FullStatePath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	if cred != nil {
		req.Header.Set("Authorization", "Basic Auth")
		req.Header.Set("Username", cred.Username)
		req.Header.Set("Password", cred.Password)
	}
	return req, nil
}

// Fetch GETs the full_state document below base and returns the HTTP
// status and the body, at most MaxBodySize bytes (for a status other than
// 200, the first 4 KiB, for the debug view). The deadline of ctx bounds the
// whole exchange. A body that ends before its declared length (a dropped
// connection) is an error.
func Fetch(ctx context.Context, client *http.Client, base *url.URL, cred *Credentials) (int, []byte, error) {
	req, err := Request(ctx, base, cred)
	if err != nil {
		return 0, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, describe(ctx, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		// Read a little: the debug view shows it, and the connection can be reused.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return resp.StatusCode, body, &StatusError{Code: resp.StatusCode}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBodySize+1))
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("%w after %d bytes: %w", ErrTruncated, len(body), describe(ctx, err))
	}
	if len(body) > MaxBodySize {
		return resp.StatusCode, nil, ErrTooLarge
	}
	return resp.StatusCode, body, nil
}

// Errors of Fetch that tell the cause apart (see probe.Classify).
var (
	// ErrTimeout: the deadline ended the exchange.
	ErrTimeout = errors.New("timeout")
	// ErrTruncated: the body broke off (also wrapped with ErrTimeout when
	// the deadline cut it).
	ErrTruncated = errors.New("reading body")
	// ErrTooLarge: the body is longer than MaxBodySize.
	ErrTooLarge = fmt.Errorf("body larger than %d bytes", MaxBodySize)
)

// describe makes transport errors say what happened in words an operator
// acts on, keeping the cause wrapped.
func describe(ctx context.Context, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("cannot resolve host: %w", QuietDNSError(dnsErr.Name, dnsErr))
	}
	return err
}

// QuietDNSError is err as a *net.DNSError that says what failed (no such
// host, a timeout, the lookup failed) but not the resolver's address, which
// is none of a caller's business.
func QuietDNSError(host string, err error) *net.DNSError {
	q := &net.DNSError{Err: "lookup failed", Name: host}
	var d *net.DNSError
	if errors.As(err, &d) {
		q.Name, q.IsNotFound, q.IsTimeout, q.IsTemporary = d.Name, d.IsNotFound, d.IsTimeout, d.IsTemporary
		switch {
		case d.IsNotFound:
			q.Err = "no such host"
		case d.IsTimeout:
			q.Err = "timeout"
		}
	}
	return q
}

// Probe fetches and parses one controller's full_state. Whatever the
// controller answers, the password of cred is in no part of the result.
func Probe(ctx context.Context, client *http.Client, base *url.URL, cred *Credentials) Result {
	start := time.Now()
	status, body, err := Fetch(ctx, client, base, cred)
	var st *FullState
	if err == nil {
		st, err = Parse(body)
	}
	r := Result{State: st, Err: err, Duration: time.Since(start), Status: status, Body: body}
	if cred != nil {
		redactSecret(&r, cred.Password)
	}
	return r
}
