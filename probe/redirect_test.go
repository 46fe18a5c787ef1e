package probe

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// headerLog records the credential headers each request to a server carried.
type headerLog struct {
	mu   sync.Mutex
	seen []string // "path Username/Password/Authorization"
}

func (l *headerLog) record(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, fmt.Sprintf("%s %q/%q/%q", r.URL.Path, r.Header.Get("Username"), r.Header.Get("Password"), r.Header.Get("Authorization")))
}

func (l *headerLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.seen, "; ")
}

// TestRedirectDropsCredentials: a redirect that leaves the controller's
// scheme, host and port does not carry the module's Username, Password and
// Authorization headers, even inside probe.allowed_targets and even when a
// later hop comes back; a redirect within the controller keeps them.
func TestRedirectDropsCredentials(t *testing.T) {
	const password = "s3cret-PASS"
	fixture := serveFixture(t, "fw5.22.1_mennekes.txt")
	var otherLog, portLog, originLog headerLog
	other := newCountingServer(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		otherLog.record(r)
		if back := r.URL.Query().Get("back"); back != "" {
			http.Redirect(w, r, back+"/final", http.StatusFound)
			return
		}
		fixture(w, r)
	})
	otherPort := newCountingServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		portLog.record(r)
		fixture(w, r)
	})
	var origin *countingServer
	origin = newCountingServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		originLog.record(r)
		switch r.URL.Path {
		case "/to-other/rest/full_state":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/to-port/rest/full_state":
			http.Redirect(w, r, otherPort.URL+"/x", http.StatusFound)
		case "/same/rest/full_state":
			http.Redirect(w, r, "/here", http.StatusFound)
		case "/away-and-back/rest/full_state":
			http.Redirect(w, r, other.URL+"/x?back="+origin.URL, http.StatusFound)
		default:
			fixture(w, r)
		}
	})
	modules := fmt.Sprintf("modules: {operator: {username: operator, password: %s}}\n", password)
	for _, policy := range []string{"", "probe: {allowed_targets: [127.0.0.0/8]}\n"} {
		h, logs := newHandler(t, modules+policy)
		for _, tt := range []struct {
			path string
			log  *headerLog
			want string // what the last hop saw
		}{
			{"/to-other", &otherLog, `/x ""/""/""`},
			{"/to-port", &portLog, `/x ""/""/""`},
			{"/away-and-back", &originLog, `/final ""/""/""`},
			{"/same", &originLog, `/here "operator"/"` + password + `"/"Basic Auth"`},
		} {
			t.Run(fmt.Sprintf("%s policy=%t", tt.path, policy != ""), func(t *testing.T) {
				code, out := probe(t, h, "module=operator&target="+origin.URL+tt.path, nil)
				if code != 200 || !strings.Contains(out, "bender_cc_up 1\n") {
					t.Fatalf("got %d:\n%s", code, out)
				}
				seen := tt.log.String()
				if !strings.HasSuffix(seen, tt.want) {
					t.Errorf("last request seen: %s\nwant it to end in %s", seen, tt.want)
				}
			})
		}
		if strings.Contains(logs.String(), password) {
			t.Errorf("log shows the password:\n%s", logs.String())
		}
	}
	// prometheus/common adds basic_auth to every request, redirected ones
	// too: a module with it follows no redirect that leaves the origin.
	h, _ := newHandler(t, "modules: {basic: {http_client_config: {basic_auth: {username: u, password: pw-basic}}}}")
	if _, out := probe(t, h, "module=basic&debug=true&target="+origin.URL+"/to-other", nil); !strings.Contains(out, "bender_cc_up 0\n") ||
		!strings.Contains(out, "credentials would go to another origin") {
		t.Errorf("basic_auth and a redirect to another origin:\n%s", out)
	}
	if _, out := probe(t, h, "module=basic&target="+origin.URL+"/same", nil); !strings.Contains(out, "bender_cc_up 1\n") {
		t.Errorf("basic_auth and a redirect within the controller:\n%s", out)
	}
	for name, l := range map[string]*headerLog{"127.0.0.2": &otherLog, "other port": &portLog} {
		if s := l.String(); strings.Contains(s, password) || strings.Contains(s, "operator") || strings.Contains(s, "Basic") {
			t.Errorf("%s received credentials: %s", name, s)
		}
	}
}

// TestRedirectLimit: 10 redirects are followed, as docs/security.md says;
// the 11th is refused.
func TestRedirectLimit(t *testing.T) {
	fixture := serveFixture(t, "fw5.22.1_mennekes.txt")
	// /<n>/rest/full_state redirects n times, then answers.
	ctl := newCountingServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		first, hop, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		n, _ := strconv.Atoi(first)
		done := 0
		if h, ok := strings.CutPrefix(hop, "hop"); ok {
			done, _ = strconv.Atoi(h)
		}
		if done < n {
			http.Redirect(w, r, fmt.Sprintf("/%d/hop%d", n, done+1), http.StatusFound)
			return
		}
		fixture(w, r)
	})
	for _, policy := range []string{"", "probe: {allowed_targets: [127.0.0.1/32]}"} {
		h, _ := newHandler(t, policy)
		for _, tt := range []struct {
			redirects int
			want      string
		}{
			{10, "bender_cc_up 1\n"},
			{11, "bender_cc_up 0\n"},
		} {
			_, out := probe(t, h, fmt.Sprintf("target=%s/%d", ctl.URL, tt.redirects), nil)
			if !strings.Contains(out, tt.want) {
				t.Errorf("%d redirects, policy %q: want %q in\n%s", tt.redirects, policy, tt.want, out)
			}
		}
		_, out := probe(t, h, "debug=true&target="+ctl.URL+"/11", nil)
		if !strings.Contains(out, "redirect not followed: stopped after 10 redirects") {
			t.Errorf("the 11th redirect is not refused with the exporter's error:\n%s", out)
		}
	}
}
