package probe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/bender-cc/bender_cc_exporter/collector"
)

const redacted = "<redacted>"

// maxDebugBody is how much of a body the debug view shows.
const maxDebugBody = 64 << 10

// writeDebug answers ?debug=true: what was asked, what came back, what each
// line became and the metrics — the report an operator sends when a new
// firmware does something odd. Passwords and the RFID card UID never appear.
func writeDebug(w http.ResponseWriter, req *request, res collector.Result, shared bool, reg *prometheus.Registry) {
	var b bytes.Buffer
	secret := ""
	if c := req.module.Credentials(); c != nil {
		secret = c.Password
	}
	fmt.Fprintf(&b, "Probe of %s with module %q, timeout %s\n\n", req.target, req.moduleName, req.timeout)

	fmt.Fprintln(&b, "Request:")
	if hr, err := collector.Request(context.Background(), req.base, req.module.Credentials()); err == nil { // rendered, never sent
		fmt.Fprintf(&b, "  GET %s\n", hr.URL.Redacted())
		for _, k := range []string{"Accept", "Authorization", "Username", "Password"} {
			if v := hr.Header.Get(k); v != "" {
				if k == "Password" {
					v = redacted
				}
				fmt.Fprintf(&b, "  %s: %s\n", k, v)
			}
		}
	}
	if shared {
		fmt.Fprintln(&b, "  (shared with a concurrent probe of the same controller and module)")
	}

	fmt.Fprintln(&b, "\nResult:")
	if res.Status != 0 {
		fmt.Fprintf(&b, "  HTTP %d %s\n", res.Status, http.StatusText(res.Status))
	}
	fmt.Fprintf(&b, "  duration %.3fs\n", res.Duration.Seconds())
	if res.Err != nil {
		fmt.Fprintf(&b, "  error: %s\n", res.Err) // errors carry URLs, never header values
	}

	fmt.Fprintf(&b, "\nBody (%d bytes; auth_uid and secrets redacted), line by line:\n", len(res.Body))
	writeLines(&b, res, secret)

	fmt.Fprintln(&b, "\nMetrics:")
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(&b, "  error gathering: %v\n", err)
	}
	for _, mf := range mfs {
		_, _ = expfmt.MetricFamilyToText(&b, mf)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.Copy(w, &b)
}

// secretOrNone keeps strings.ReplaceAll from matching an empty secret.
func secretOrNone(s string) string {
	if s == "" {
		return "\x00no secret\x00"
	}
	return s
}

// writeLines shows each body line and what the parser made of it.
func writeLines(b *bytes.Buffer, res collector.Result, secret string) {
	outcome := map[int]string{}
	if st := res.State; st != nil {
		for _, v := range st.Values {
			outcome[v.Field.Line] = "→ bender_cc_" + v.Spec.Metric + describeValue(&v)
		}
		for _, f := range st.Unknown {
			outcome[f.Line] = "→ unknown key (counted in bender_cc_unknown_keys)"
		}
		for _, iv := range st.Invalid {
			outcome[iv.Line] = "→ NOT PARSED: " + iv.Reason + " (counted in bender_cc_parse_errors)"
		}
	}
	body := res.Body
	if len(body) > maxDebugBody {
		body = body[:maxDebugBody]
	}
	for n, line := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
		line = strings.TrimRight(line, "\r")
		if k, _, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "auth_uid" {
			line = k + ":" + redacted
		}
		line = strings.ReplaceAll(line, secretOrNone(secret), redacted)
		if !utf8.ValidString(line) || strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 && r != '\t' }) {
			line = strconv.Quote(line)
		}
		o := outcome[n+1]
		if o == "" && res.State != nil {
			o = "→ (empty, personal or free text: not exported)"
		}
		fmt.Fprintf(b, "  %3d  %-45s %s\n", n+1, line, o)
	}
	if len(res.Body) > maxDebugBody {
		fmt.Fprintf(b, "  … %d more bytes\n", len(res.Body)-maxDebugBody)
	}
}

func describeValue(v *collector.Value) string {
	switch v.Spec.Kind {
	case collector.StateSet:
		return fmt.Sprintf("{state=%q} = 1", v.Field.Value)
	case collector.Info:
		return fmt.Sprintf("{%s=%q}", v.Spec.InfoLabel, v.Field.Value)
	case collector.Errors:
		return fmt.Sprintf(" %d active: %v", len(v.Codes), v.Codes)
	}
	var parts []string
	for _, n := range v.Numbers {
		label := ""
		if v.Spec.Kind == collector.List {
			label = fmt.Sprintf("{%s=%q}", v.Spec.ListLabel, v.Spec.ListValues[n.Index])
		}
		parts = append(parts, fmt.Sprintf("%s = %g", label, n.Value))
	}
	if len(parts) == 0 {
		return " (no value: the controller could not measure it)"
	}
	return strings.Join(parts, ", ")
}
