package probe

import (
	"encoding/json"
	"net/http"

	"github.com/bender-cc/bender_cc_exporter/config"
)

// sdGroup is one entry of Prometheus' HTTP service discovery format.
type sdGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// SDHandler serves the configured targets for Prometheus' http_sd_configs:
// one group per target, its address as the target (so that Prometheus'
// usual relabeling sends it to /probe), its module as __param_module and
// its labels as target labels. Prometheus then learns the fleet from the
// exporter's config, and can shard it with hashmod.
func SDHandler(holder *config.Holder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		cfg := holder.Get()
		groups := make([]sdGroup, 0, len(cfg.Targets))
		for _, t := range cfg.Targets {
			labels := map[string]string{"__param_module": t.Module}
			for k, v := range t.Labels {
				labels[k] = v
			}
			groups = append(groups, sdGroup{Targets: []string{t.Address}, Labels: labels})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(groups)
	})
}
