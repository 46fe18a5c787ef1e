package dashboards

import (
	"maps"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// longWindowSeries is the name of the series a query reads over a day, a
// week, 30 days or the dashboard's range (all must be the same one), or ""
// if they differ.
func longWindowSeries(t *testing.T, expr string) string {
	t.Helper()
	vars := maps.Clone(Builtins)
	vars["__range"] = "1d" // the dashboard's range: as long as a day, say
	e, err := parser.NewParser(parser.Options{}).ParseExpr(Substitute(expr, vars))
	if err != nil {
		return ""
	}
	names := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if ms, ok := n.(*parser.MatrixSelector); ok && ms.Range >= 24*time.Hour {
			names[ms.VectorSelector.(*parser.VectorSelector).Name] = true
		}
		return nil
	})
	// The per-site minutes come in pairs (operational / known): one kind of series.
	kinds := map[string]bool{}
	for n := range names {
		kinds[regexp.MustCompile(`_(operational|known|excluded)_minutes`).ReplaceAllString(n, "_minutes")] = true
	}
	if len(kinds) != 1 {
		return ""
	}
	for k := range kinds {
		return k
	}
	return ""
}

// mappedColor is the colour of the value mapped to text.
func mappedColor(mappings []struct {
	Type    string
	Options map[string]struct{ Text, Color string }
}, text string) string {
	for _, m := range mappings {
		for _, o := range m.Options {
			if o.Text == text {
				return o.Color
			}
		}
	}
	return ""
}
