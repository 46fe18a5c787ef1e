package collector

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "192.0.2.10", want: "http://192.0.2.10"},
		{in: "192.0.2.10:8080", want: "http://192.0.2.10:8080"},
		{in: "cc-garage.example.net", want: "http://cc-garage.example.net"},
		{in: "https://cc.example.net/", want: "https://cc.example.net"},
		{in: "http://127.0.0.1:8081/cc/7", want: "http://127.0.0.1:8081/cc/7"},
		{in: "http://proxy.example.net/site%2F1/cc/", want: "http://proxy.example.net/site/1/cc"},
		{in: "[2001:db8::1]:80", want: "http://[2001:db8::1]:80"},
		{in: "", err: "empty target"},
		{in: "ftp://cc", err: "scheme must be http or https"},
		{in: "http://operator:secret@cc", err: "credentials in the target are not allowed"},
		{in: "http://cc/?x=1", err: "no query or fragment"},
		{in: "http://", err: "no host"},
		{in: "http://a b@c:xx", err: "invalid target"},
		// The exporter appends /rest/full_state itself; a target with it is its base URL.
		{in: "http://127.0.0.1:8081/cc/7/rest/full_state", want: "http://127.0.0.1:8081/cc/7"},
		{in: "192.0.2.10/rest/full_state/", want: "http://192.0.2.10"},
		{in: "127.0.0.1:8081/cc/7", want: "http://127.0.0.1:8081/cc/7"},
	}
	for _, tt := range tests {
		u, err := ParseTarget(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseTarget(%q) error %v, want %q", tt.in, err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseTarget(%q) error leaks the password: %v", tt.in, err)
			}
			continue
		}
		if err != nil || u.String() != tt.want {
			t.Errorf("ParseTarget(%q) = %v, %v; want %s", tt.in, u, err, tt.want)
		}
	}
}

// TestParseTargetNeverEchoesCredentials: however a target with a password
// in it fails to parse, no part of the password is in the error.
func TestParseTargetNeverEchoesCredentials(t *testing.T) {
	for _, pw := range []string{"s3cret-PASS", "s3cret/PASS", "s3cret?PASS", "s3cret#PASS", `s3cret"PASS`, `s3cret\PASS`, "s3cret PASS", "s3cret%zzPASS", "s3cret@PASS"} {
		for _, target := range []string{
			"http://operator:" + pw + "@127.0.0.1:9100/%25zz",
			"http://operator:" + pw + "@127.0.0.1:9100/%zz",
			"operator:" + pw + "@127.0.0.1:9100",
			"http://operator:" + pw + "@127.0.0.1:xx",
			"ftp://operator:" + pw + "@127.0.0.1",
			"http://operator:" + pw + "@127.0.0.1/?q",
		} {
			_, err := ParseTarget(target)
			if err == nil {
				t.Errorf("ParseTarget(%q) accepted credentials", target)
				continue
			}
			for _, part := range []string{"s3cret", "PASS"} {
				if strings.Contains(err.Error(), part) {
					t.Errorf("ParseTarget(%q) error shows the password: %v", target, err)
				}
			}
		}
	}
}

func TestFetchHeadersAndStatus(t *testing.T) {
	var got http.Header
	var path string
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, path = r.Header.Clone(), r.URL.Path
		w.WriteHeader(status)
		_, _ = w.Write([]byte("power_w:1\n"))
	}))
	defer srv.Close()
	base, _ := ParseTarget(srv.URL + "/cc/3/")

	if _, _, err := Fetch(context.Background(), srv.Client(), base, nil); err != nil {
		t.Fatal(err)
	}
	if path != "/cc/3/rest/full_state" {
		t.Errorf("path %q, want /cc/3/rest/full_state", path)
	}
	for _, h := range []string{"Authorization", "Username", "Password"} {
		if got.Get(h) != "" {
			t.Errorf("without credentials, header %s = %q was sent", h, got.Get(h))
		}
	}

	if _, _, err := Fetch(context.Background(), srv.Client(), base, &Credentials{"operator", "s3cret"}); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Basic Auth" || got.Get("Username") != "operator" || got.Get("Password") != "s3cret" {
		t.Errorf("credential headers: %v", got)
	}

	status = http.StatusUnauthorized
	_, _, err := Fetch(context.Background(), srv.Client(), base, &Credentials{"operator", "s3cret"})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 401 || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("401: got %v", err)
	}
}
