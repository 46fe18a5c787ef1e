package collector

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// SecretMark stands where a controller's answer repeated a module's secret.
const SecretMark = "<redacted>"

// secretForms are the spellings in which a secret can come back: as sent,
// URL-escaped (a Location header) and %q-escaped (Go's error messages).
func secretForms(secret string) []string {
	q := strconv.Quote(secret)
	forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret), q[1 : len(q)-1]}
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) }) // longest first
	return slices.Compact(forms)
}

// redactSecret removes the module's password from everything of r that
// came from the controller, whatever it sends: a hostile or broken
// controller that echoes the Password header must not get it into a label,
// the debug view, a log line or an error. Numbers are left alone (a number
// cannot carry a password that is not one).
func redactSecret(r *Result, secret string) {
	if secret == "" {
		return
	}
	forms := secretForms(secret)
	has := func(s string) bool {
		for _, f := range forms {
			if strings.Contains(s, f) {
				return true
			}
		}
		return false
	}
	clean := func(s string) string {
		for _, f := range forms {
			s = strings.ReplaceAll(s, f, SecretMark)
		}
		return s
	}
	if has(string(r.Body)) {
		r.Body = []byte(clean(string(r.Body)))
	}
	if r.Err != nil && has(r.Err.Error()) {
		r.Err = &redactedError{msg: clean(r.Err.Error()), err: r.Err}
	}
	if r.State == nil {
		return
	}
	field := func(f *Field) {
		if has(f.Key) || has(f.Value) {
			f.Key, f.Value = clean(f.Key), clean(f.Value)
		}
	}
	for i := range r.State.Values {
		v := &r.State.Values[i]
		field(&v.Field)
		changed := false
		for j, c := range v.Codes {
			if has(c) {
				v.Codes[j], changed = clean(c), true
			}
		}
		if changed { // two codes may now be one
			slices.Sort(v.Codes)
			v.Codes = slices.Compact(v.Codes)
		}
	}
	for i := range r.State.Unknown {
		field(&r.State.Unknown[i])
	}
	for i := range r.State.Invalid {
		field(&r.State.Invalid[i].Field)
		if has(r.State.Invalid[i].Reason) {
			r.State.Invalid[i].Reason = clean(r.State.Invalid[i].Reason)
		}
	}
}

// redactedError says what err says, less a secret; errors.Is and As still
// see err.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
