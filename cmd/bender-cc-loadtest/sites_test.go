package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// fetch gets url on client and says what came back: "200 hello", or the
// kind of failure ("timeout", "refused", ...).
func fetch(client *http.Client, url string) string {
	resp, err := client.Get(url)
	if err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return "timeout"
		case errors.Is(err, syscall.ECONNREFUSED):
			return "refused"
		}
		return err.Error()
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp.Status[:3] + " " + string(b)
}

// TestSiteDarkModes: a dark site never answers, in either way; a connect
// to a no-syn-ack site times out instead of being refused; and the site
// answers again on the same address when it comes back.
func TestSiteDarkModes(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the blackhole is Linux only")
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") })
	for _, mode := range []darkMode{darkHang, darkNoSYNACK} {
		s, err := startSite(hello, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + s.addr + "/"
		// A kept-alive connection from before the dark, and new ones.
		kept := &http.Client{Timeout: 300 * time.Millisecond}
		fresh := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
		if got := fetch(kept, url); got != "200 hello" {
			t.Fatalf("%s, before: %q", mode, got)
		}
		if err := s.goDark(mode); err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]*http.Client{"kept-alive": kept, "new connection": fresh} {
			if got := fetch(c, url); got != "timeout" {
				t.Errorf("%s, dark, %s: %q, want a timeout", mode, name, got)
			}
		}
		if mode == darkNoSYNACK {
			c, err := net.DialTimeout("tcp", s.addr, 300*time.Millisecond)
			var ne net.Error
			if err == nil {
				_ = c.Close()
			}
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("%s: connect gave %v, want a timeout (no SYN-ACK)", mode, err)
			}
		}
		if err := s.comeBack(); err != nil {
			t.Fatal(err)
		}
		for name, c := range map[string]*http.Client{"kept-alive": kept, "new connection": fresh} {
			if got := fetch(c, url); got != "200 hello" {
				t.Errorf("%s, back, %s: %q", mode, name, got)
			}
		}
		s.close()
	}
}

// TestDarkSites: the share of sites, whole, spread over the fleet.
func TestDarkSites(t *testing.T) {
	for _, tt := range []struct {
		n     int
		share float64
		want  string
	}{
		{10, 0.3, "...#..#..#"},
		{10, 0.6, ".#.##.#.##"},
		{5, 0, "....."},
		{4, 1, "####"},
	} {
		got := ""
		for _, d := range darkSites(tt.n, tt.share) {
			got += map[bool]string{true: "#", false: "."}[d]
		}
		if got != tt.want {
			t.Errorf("darkSites(%d, %v) = %s, want %s", tt.n, tt.share, got, tt.want)
		}
	}
	n := 0
	for _, d := range darkSites(100, 0.3) {
		if d {
			n++
		}
	}
	if n != 30 {
		t.Errorf("30 %% of 100 sites: %d dark", n)
	}
}

func TestParseDarkMode(t *testing.T) {
	for in, ok := range map[string]bool{"hang": true, "no-syn-ack": true, "drop": false, "": false} {
		if _, err := parseDarkMode(in); (err == nil) != ok {
			t.Errorf("parseDarkMode(%q): %v", in, err)
		}
	}
}
