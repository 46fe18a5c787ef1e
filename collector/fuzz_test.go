package collector

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics, keeps its output bounded by its input, and
// a document it accepts, written out again, parses to the same values.
func FuzzParse(f *testing.F) {
	for _, b := range fixtures(f) {
		f.Add(b)
	}
	for _, s := range []string{"", "power_w:1", "<html>", "{}", "errors:a;;b", "current_a:1,2,3,4", "rcmb_values:4294967295,1",
		"conn_state:x\rauth_uid:04ab", "power_w:1\u2028AUTH_UID:04ab", "\ufeffauth uid:04ab\ncp_id:a\x1cauth_uid:04ab",
		"errors:" + strings.Repeat("a;b;c;d;e;f;g;h;i;j;k;l;m;n;o;p;q;r;s;t;u;v;w;x;y;z;", 3)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := Parse(body)
		if err != nil {
			return
		}
		if n := len(st.Values) + len(st.Unknown) + len(st.Invalid); n > strings.Count(string(body), ":") {
			t.Fatalf("%d fields from %d colons", n, strings.Count(string(body), ":"))
		}
		for _, v := range st.Values {
			if len(v.Codes) > maxErrorCodes {
				t.Fatalf("%d error codes exported", len(v.Codes))
			}
			if MentionsAuthUID(v.Field.Value) {
				t.Fatalf("a value that mentions auth_uid exported: %q", v.Field.Value)
			}
			if (v.Spec.Kind == StateSet || v.Spec.Kind == Info) && len(v.Field.Value) > maxLabelValue {
				t.Fatalf("a %d-byte label value exported", len(v.Field.Value))
			}
		}
		again, err := Parse(serialize(st))
		if err != nil {
			if len(st.Values) == 0 { // nothing exported: only private, empty or invalid keys were known
				return
			}
			t.Fatalf("re-parse of an accepted document failed: %v\n%q", err, serialize(st))
		}
		if len(again.Invalid) != 0 {
			t.Fatalf("exported values do not re-parse: %v", again.Invalid)
		}
		if got, want := values(again), values(st); !reflect.DeepEqual(got, want) {
			t.Fatalf("values changed on re-parse:\n got %q\nwant %q", got, want)
		}
		if len(again.Unknown) != len(st.Unknown) {
			t.Fatalf("unknown keys changed: %d → %d", len(st.Unknown), len(again.Unknown))
		}
	})
}

// serialize writes what Parse exported (values and unknown keys) as a
// document, in document order.
func serialize(st *FullState) []byte {
	var fields []Field
	for _, v := range st.Values {
		fields = append(fields, v.Field)
	}
	fields = append(fields, st.Unknown...)
	slices.SortFunc(fields, func(a, b Field) int { return a.Line - b.Line })
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.Key + ":" + f.Value + "\n")
	}
	return []byte(b.String())
}
