package probe

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

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
	fmt.Fprintf(&b, "Probe of %s with module %q, timeout %s\n\n", req.target, req.moduleName, req.timeout)

	if req.failed != nil {
		fmt.Fprintln(&b, "Request: none sent, the probe failed before it (see the error below). It would be:")
	} else {
		fmt.Fprintln(&b, "Request:")
	}
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
	fmt.Fprintf(&b, "  duration %s\n", res.Duration.Round(time.Microsecond)) // 412µs, 1.203456s
	if res.Err != nil {
		fmt.Fprintf(&b, "  error: %s\n", res.Err) // errors carry URLs, never header values
	}

	fmt.Fprintf(&b, "\nBody (%d bytes; auth_uid and secrets redacted), line by line:\n", len(res.Body))
	writeLines(&b, res)

	writeDebugMetrics(w, &b, reg)
}

// writeLines shows each body line and what the parser made of it.
func writeLines(b *bytes.Buffer, res collector.Result) {
	outcome := map[int]string{}
	if st := res.State; st != nil {
		for _, v := range st.Values {
			outcome[v.Field.Line] = "→ " + describeValue(&v)
		}
		for _, f := range st.Unknown {
			outcome[f.Line] = "→ unknown key (counted in bender_cc_unknown_keys)"
		}
		for _, iv := range st.Invalid {
			outcome[iv.Line] = "→ NOT PARSED: " + iv.Reason + " (counted in bender_cc_parse_errors)"
		}
	}
	body := string(res.Body)
	if len(body) > maxDebugBody {
		body = body[:maxDebugBody]
	}
	if res.State == nil && collector.MentionsAuthUID(body) {
		// Not a document of lines: the card UID may be anywhere in it.
		fmt.Fprintln(b, "  (not shown: it is not a full_state document and mentions auth_uid, personal data)")
		return
	}
	// Lines as Parse numbers them.
	doc := strings.TrimPrefix(body, "\ufeff")
	for n := 1; doc != ""; n++ {
		var line string
		line, doc, _ = collector.CutLine(doc)
		o := outcome[n]
		if collector.MentionsAuthUID(line) {
			line = redactUID(line)
			if o == "" {
				o = "→ not exported: personal data or free text"
			}
		}
		if !utf8.ValidString(line) || strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 && r != '\t' }) {
			line = strconv.Quote(line)
		}
		if o == "" && res.State != nil {
			o = notExported(line)
		}
		fmt.Fprintf(b, "  %3d  %-45s %s\n", n, line, o)
	}
	if len(res.Body) > maxDebugBody {
		fmt.Fprintf(b, "  … %d more bytes\n", len(res.Body)-maxDebugBody)
	}
}

// redactUID hides a line that mentions auth_uid: all but an auth_uid key.
func redactUID(line string) string {
	if k, _, ok := strings.Cut(line, ":"); ok && collector.IsAuthUIDKey(k) {
		return k + ":" + redacted
	}
	return redacted
}

// notExported says why a line of a document became no metric.
func notExported(line string) string {
	k, v, ok := collector.CutField(strings.TrimSpace(line))
	switch spec, known := collector.Lookup(k); {
	case strings.TrimSpace(line) == "":
		return ""
	case !ok:
		return "→ goes on with the value above (a value over several lines)"
	case known && spec.Kind == collector.Private:
		return "→ not exported: personal data or free text"
	case strings.TrimSpace(v) == "":
		return "→ empty value: nothing to export"
	}
	return ""
}

// describeValue renders the samples a value becomes, with all their labels.
func describeValue(v *collector.Value) string {
	name := "bender_cc_" + v.Spec.Metric
	var fixed []string
	if v.Spec.Label != "" {
		fixed = append(fixed, fmt.Sprintf("%s=%q", v.Spec.Label, v.Spec.LabelValue))
	}
	sample := func(name string, value float64, labels ...string) string {
		labels = append(append([]string(nil), fixed...), labels...)
		if len(labels) == 0 {
			return fmt.Sprintf("%s = %g", name, value)
		}
		return fmt.Sprintf("%s{%s} = %g", name, strings.Join(labels, ","), value)
	}
	switch v.Spec.Kind {
	case collector.StateSet:
		s := sample(name, 1, fmt.Sprintf("state=%q", v.Field.Value))
		if len(v.Numbers) > 0 { // a numeric type2_proximity is also a cable rating
			s += ", " + sample("bender_cc_"+v.Spec.NumberMetric, v.Numbers[0].Value)
		}
		return s
	case collector.Info:
		return fmt.Sprintf("%s{%s=%q}", name, v.Spec.InfoLabel, v.Field.Value)
	case collector.Errors:
		parts := make([]string, 0, len(v.Codes)+1)
		for _, c := range v.Codes {
			parts = append(parts, sample(name, 1, fmt.Sprintf("error=%q", c)))
		}
		return strings.Join(append(parts, sample("bender_cc_errors", float64(len(v.Codes)))), ", ")
	}
	parts := make([]string, 0, len(v.Numbers))
	for _, n := range v.Numbers {
		if v.Spec.Kind == collector.List {
			parts = append(parts, sample(name, n.Value, fmt.Sprintf("%s=%q", v.Spec.ListLabel, v.Spec.ListValues[n.Index])))
		} else {
			parts = append(parts, sample(name, n.Value))
		}
	}
	if len(parts) == 0 {
		return name + " (no value: the controller could not measure it)"
	}
	return strings.Join(parts, ", ")
}
