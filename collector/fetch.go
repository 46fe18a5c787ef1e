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
// "host", "host:port" and "http(s)://host[:port][/base/path]". Credentials in
// the URL are refused: they belong in a module, not in scrape configs and logs.
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
		return nil, fmt.Errorf("invalid target %q: %w", redactTarget(target), err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("invalid target %q: scheme must be http or https", u.Redacted())
	case u.User != nil:
		return nil, fmt.Errorf("invalid target %q: credentials in the target are not allowed, use a module", u.Redacted())
	case u.Hostname() == "":
		return nil, fmt.Errorf("invalid target %q: no host", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("invalid target %q: no query or fragment allowed", u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// redactTarget hides anything that looks like userinfo in an unparseable target.
func redactTarget(t string) string {
	if i := strings.LastIndex(t, "@"); i >= 0 {
		return "xxxxx@" + t[i+1:]
	}
	return t
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
		msg += " (REST interface disabled on the controller, or wrong base path)"
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
		return fmt.Errorf("cannot resolve host: %w", err)
	}
	return err
}

// Probe fetches and parses one controller's full_state.
func Probe(ctx context.Context, client *http.Client, base *url.URL, cred *Credentials) Result {
	start := time.Now()
	status, body, err := Fetch(ctx, client, base, cred)
	var st *FullState
	if err == nil {
		st, err = Parse(body)
	}
	return Result{State: st, Err: err, Duration: time.Since(start), Status: status, Body: body}
}
