package main

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// outcome is what one scrape came to, as Prometheus counts it.
type outcome int

const (
	upOne      outcome = iota // HTTP 200 with bender_cc_up 1, within the scrape timeout
	upZero                    // HTTP 200 with bender_cc_up 0, within the scrape timeout
	refused503                // HTTP 503: the exporter refused the probe (up == 0 in Prometheus)
	noAnswer                  // no HTTP answer: connection reset or refused, EOF
	otherCode                 // another status, or 200 without bender_cc_up
	late                      // answered, or not, after the scrape timeout: Prometheus has given up
	numOutcomes
)

// outcomeNames head the report's columns, in the order of the outcomes.
var outcomeNames = [numOutcomes]string{"up 1", "up 0", "503", "reset", "other", "late"}

// classify says what r came to when Prometheus waits lateAfter for an
// answer. Late comes first: an answer after the timeout is a failed
// scrape whatever it says.
func classify(r result, lateAfter time.Duration) outcome {
	switch {
	case r.sent > lateAfter:
		return late
	case r.ok && r.up:
		return upOne
	case r.ok:
		return upZero
	case r.code == http.StatusServiceUnavailable:
		return refused503
	case r.code == 0:
		return noAnswer
	}
	return otherCode
}

// tally counts the outcomes of a group of scrapes (one class of
// controllers in one interval or phase) and keeps their answer times.
type tally struct {
	n    [numOutcomes]int
	lats []time.Duration // from the actual send until the answer, whatever it was
}

func (t *tally) add(r result, lateAfter time.Duration) {
	t.n[classify(r, lateAfter)]++
	t.lats = append(t.lats, r.sent)
}

func (t *tally) sent() int { return len(t.lats) }

// not is how many scrapes came to anything but the given outcomes.
func (t *tally) not(allowed ...outcome) int {
	n := t.sent()
	for _, o := range allowed {
		n -= t.n[o]
	}
	return n
}

// quantile of the answer times (0 without scrapes).
func (t *tally) quantile(q float64) time.Duration {
	if len(t.lats) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(t.lats))
	return s[int(float64(len(s)-1)*q)]
}

// classRow is one line of a table of tallies: a group of scrapes and its class.
type classRow struct {
	group, class string
	t            *tally
}

// printTallies prints rows as a table: sent, each outcome, p50/p99/max.
func printTallies(groupHead string, rows []classRow) {
	head := fmt.Sprintf("%-18s %-8s %7s", groupHead, "class", "sent")
	for _, n := range outcomeNames {
		head += fmt.Sprintf(" %7s", n)
	}
	fmt.Println(head + fmt.Sprintf(" | %8s %8s %8s", "p50", "p99", "max"))
	for _, r := range rows {
		line := fmt.Sprintf("%-18s %-8s %7d", r.group, r.class, r.t.sent())
		for _, n := range r.t.n {
			line += fmt.Sprintf(" %7d", n)
		}
		ms := func(q float64) string { return r.t.quantile(q).Round(time.Millisecond).String() }
		fmt.Println(line + fmt.Sprintf(" | %8s %8s %8s", ms(0.5), ms(0.99), ms(1)))
	}
}

// splitByClass tallies results by whether their controller was expected
// up (healthy) or not (the class named down).
func splitByClass(group, down string, results []result, lateAfter time.Duration) []classRow {
	healthy, other := &tally{}, &tally{}
	for _, r := range results {
		if r.wantUp {
			healthy.add(r, lateAfter)
		} else {
			other.add(r, lateAfter)
		}
	}
	return []classRow{{group, "healthy", healthy}, {group, down, other}}
}
