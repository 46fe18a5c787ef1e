// Package alerts holds the Prometheus alerting and recording rules
// (bender_cc.rules.yml) and reads them for the tests that check them.
package alerts

import (
	"os"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v2"
)

// Rules is a Prometheus rule file, as far as the checks need it.
type Rules struct {
	Groups []struct {
		Name     string
		Interval string
		Rules    []struct {
			Alert, Record, Expr string
			Labels, Annotations map[string]string
		}
	}
}

// Load reads a rule file.
func Load(path string) (*Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Rules
	return &r, yaml.Unmarshal(b, &r)
}

// Hourly lists the series recorded by the groups evaluated once an hour, by
// the group that records them. An instant query finds such a series only in
// the lookback (5 minutes) after each evaluation: anywhere else it is read
// over a range (last_over_time, sum_over_time).
func (r *Rules) Hourly() map[string]string {
	m := map[string]string{}
	for _, g := range r.Groups {
		if g.Interval != "1h" {
			continue
		}
		for _, rule := range g.Rules {
			if rule.Record != "" {
				m[rule.Record] = g.Name
			}
		}
	}
	return m
}

// BareReads lists the series of hourly that expr reads with an instant
// selector, not over a range.
func BareReads(expr string, hourly map[string]string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var bare []string
	parser.Inspect(e, func(n parser.Node, path []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok || hourly[vs.Name] == "" {
			return nil
		}
		if len(path) > 0 {
			if _, ranged := path[len(path)-1].(*parser.MatrixSelector); ranged {
				return nil
			}
		}
		bare = append(bare, vs.Name)
		return nil
	})
	return bare, nil
}
