// Package alerts holds the Prometheus alerting and recording rules
// (bender_cc.rules.yml) and reads them for the tests that check them.
package alerts

import (
	"os"

	"go.yaml.in/yaml/v2"
)

// Rules is a Prometheus rule file, as far as the checks need it.
type Rules struct {
	Groups []struct {
		Name  string
		Rules []struct {
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
