package main

import (
	"testing"
	"time"
)

// TestClassify: what a scrape comes to, as Prometheus counts it; an answer
// after the timeout is late whatever it says.
func TestClassify(t *testing.T) {
	const timeout = 10 * time.Second
	for _, tt := range []struct {
		name string
		r    result
		want outcome
	}{
		{"up", result{ok: true, up: true, code: 200, sent: 20 * time.Millisecond}, upOne},
		{"down, in time", result{ok: true, code: 200, sent: 9500 * time.Millisecond}, upZero},
		{"down, at the timeout", result{ok: true, code: 200, sent: timeout}, upZero},
		{"down, after the timeout", result{ok: true, code: 200, sent: timeout + time.Millisecond}, late},
		{"up, after the timeout", result{ok: true, up: true, code: 200, sent: 11 * time.Second}, late},
		{"refused", result{code: 503, failure: "HTTP 503: more than 460 probes in flight", sent: time.Millisecond}, refused503},
		{"503 after the timeout", result{code: 503, sent: 12 * time.Second}, late},
		{"reset", result{failure: "read: connection reset by peer", sent: time.Millisecond}, noAnswer},
		{"client timeout", result{failure: "Client.Timeout exceeded", sent: 15 * time.Second}, late},
		{"forbidden", result{code: 403, failure: "HTTP 403", sent: time.Millisecond}, otherCode},
		{"200 without bender_cc_up", result{code: 200, failure: "no bender_cc_up in the answer", sent: time.Millisecond}, otherCode},
	} {
		if got := classify(tt.r, timeout); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, outcomeNames[got], outcomeNames[tt.want])
		}
	}
}

// TestSplitByClass: the overload runs' healthy and hanging controllers apart.
func TestSplitByClass(t *testing.T) {
	rows := splitByClass("overload", "hanging", []result{
		{ok: true, up: true, code: 200, wantUp: true},
		{code: 503, wantUp: true},
		{ok: true, code: 200, wantUp: false, sent: 4500 * time.Millisecond},
		{code: 503, wantUp: false},
		{failure: "connection reset by peer", wantUp: false},
	}, 5*time.Second)
	h, d := rows[0].t, rows[1].t
	if rows[0].class != "healthy" || rows[1].class != "hanging" ||
		h.n != [numOutcomes]int{upOne: 1, refused503: 1} || d.n != [numOutcomes]int{upZero: 1, refused503: 1, noAnswer: 1} {
		t.Errorf("healthy %v (%s), hanging %v (%s)", h.n, rows[0].class, d.n, rows[1].class)
	}
}
