package main

import (
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v2"
)

// ruleQueries reads the rules of the groups whose name starts with prefix
// (query.panel is the group and its interval, query.refID the rule).
func ruleQueries(file, prefix string) []query {
	b, err := os.ReadFile(file)
	if err != nil {
		log.Fatal(err)
	}
	var rf struct {
		Groups []struct {
			Name     string
			Interval string
			Rules    []struct{ Record, Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		log.Fatal(err)
	}
	var qs []query
	for _, g := range rf.Groups {
		if !strings.HasPrefix(g.Name, prefix) {
			continue
		}
		interval := g.Interval
		if interval == "" {
			interval = "global"
		}
		for _, r := range g.Rules {
			qs = append(qs, query{g.Name + " (" + interval + ")", r.Record + r.Alert, r.Expr, true, 0})
		}
	}
	return qs
}

// timeRules times the rules as the rule manager evaluates them: instant
// queries at the end of the day. A group's evaluation costs about the sum
// of its rules.
func timeRules(addr string, qs []query, at time.Time) {
	fmt.Printf("| group (interval) | rule | median of 3 |\n|---|---|---|\n")
	for _, q := range qs {
		fmt.Printf("| %s | %s | %s |\n", q.panel, q.refID, timeQuery(addr, q, at))
	}
	fmt.Println()
}
