package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
)

func main() {
	rules := flag.String("rules", "", "alerts/bender_cc.rules.yml: a PrometheusRule must hold exactly its groups")
	dashboards := flag.String("dashboards", "", "dashboards/: dashboard ConfigMaps must hold exactly its JSON files")
	configOut := flag.String("config-out", "", "write the exporter's config.yml here, for bender_cc_exporter --config.check")
	wantKinds := flag.String("want-kinds", "", "comma-separated Kind=count that the manifests must hold, e.g. Deployment=1,Probe=2")
	flag.Parse()
	failed := false
	for _, path := range flag.Args() {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		rep, err := Validate(b, Options{RulesFile: *rules, DashboardsDir: *dashboards})
		if err == nil {
			err = checkKinds(rep.Kinds, *wantKinds)
		}
		if err == nil && *configOut != "" {
			if rep.Config == nil {
				err = errors.New("no ConfigMap with config.yml")
			} else {
				err = os.WriteFile(*configOut, rep.Config, 0o600)
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			failed = true
			continue
		}
		fmt.Printf("%s: valid: %s\n", path, summary(rep.Kinds))
	}
	if failed {
		os.Exit(1)
	}
}

func checkKinds(got map[string]int, want string) error {
	if want == "" {
		return nil
	}
	wantMap := map[string]int{}
	for _, kv := range strings.Split(want, ",") {
		var k string
		var n int
		if _, err := fmt.Sscanf(strings.Replace(kv, "=", " ", 1), "%s %d", &k, &n); err != nil {
			return fmt.Errorf("-want-kinds %q: %w", kv, err)
		}
		wantMap[k] = n
	}
	if !reflect.DeepEqual(got, wantMap) {
		return fmt.Errorf("kinds %s, want %s", summary(got), summary(wantMap))
	}
	return nil
}

func summary(kinds map[string]int) string {
	var parts []string
	for k, n := range kinds {
		parts = append(parts, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
