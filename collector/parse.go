package collector

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxBodySize is the largest full_state document accepted. Real documents
// are about 1 KiB; the limit keeps a broken or hostile device from filling memory.
const MaxBodySize = 1 << 20

// Bounds on what becomes a label value: a broken or hostile controller
// must not turn one line into thousands of series, or a series into a
// megabyte label. Real documents have a handful of error codes and values
// of a few dozen bytes.
const (
	maxErrorCodes = 32
	maxLabelValue = 128
)

// ErrNotFullState is wrapped by every error that says the body is not a
// full_state document at all (a login page, JSON, binary, an empty answer).
var ErrNotFullState = errors.New("not a full_state document")

// Field is one "key:value" line of a document, key and value trimmed.
type Field struct {
	Key, Value string
	Line       int // 1-based line number, for messages
}

// Reading is one numeric reading in base units; Index is its position in a
// List (0 for a single Number) and selects the ListValues label.
type Reading struct {
	Index int
	Value float64
}

// Value is the typed reading of one known key.
type Value struct {
	Spec  *KeySpec
	Field Field
	// Numbers holds Number and List readings (in base units), the 0/1
	// of a Bool, and the cable rating of a numeric type2_proximity.
	Numbers []Reading
	// Codes holds the active error codes of an Errors key, deduplicated.
	Codes []string
}

// Invalid is a line of a known key whose value could not be parsed.
type Invalid struct {
	Field
	Reason string
}

// FullState is one parsed /rest/full_state document.
type FullState struct {
	Values  []Value   // known keys with a non-empty value, in document order
	Unknown []Field   // keys the table does not know
	Invalid []Invalid // known keys whose value could not be parsed
}

// Parse reads a full_state document: one "key:value" per line, split on the
// first colon, at any line terminator (see CutLine). It returns an error wrapping
// ErrNotFullState when the body is not such a document; a single bad value is
// not an error but is listed in Invalid.
func Parse(body []byte) (*FullState, error) {
	if err := sniff(body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFullState, err)
	}
	doc := strings.TrimPrefix(string(body), "\ufeff") // one copy; every Field slices it
	p := parser{st: &FullState{Values: make([]Value, 0, 48)}, seen: make([]bool, len(Keys))}
	var cur Field // the field being read: its value may go on over the next lines
	for n := 1; doc != ""; n++ {
		var line string
		line, doc, _ = CutLine(doc)
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := CutField(line)
		if k != "auth_uid" && MentionsAuthUID(k) {
			// The card UID under another spelling (AUTH_UID, auth uid, a
			// full-width underscore, no colon): personal data, never kept.
			continue
		}
		switch {
		case ok:
			p.add(cur)
			cur = Field{Key: k, Value: v, Line: n}
		case cur.Key == "":
			return nil, fmt.Errorf("%w: line %d is not key:value: %s", ErrNotFullState, n, quote(line))
		default:
			// The format has no escaping: a value with line breaks (a
			// display_text of three lines) goes on over lines that are
			// not key:value. Only the first line must be key:value.
			cur.Value += "\n" + line
		}
	}
	p.add(cur)
	if p.known == 0 {
		return nil, fmt.Errorf("%w: no known key in %d unknown ones", ErrNotFullState, len(p.st.Unknown))
	}
	return p.st, nil
}

// parser is the state of one Parse: the fields read so far.
type parser struct {
	st    *FullState
	seen  []bool // by index in Keys
	known int    // lines of known keys
}

// add files one field (none when f.Key is empty) under Values, Unknown or Invalid.
func (p *parser) add(f Field) {
	if f.Key == "" {
		return
	}
	st, v := p.st, f.Value
	uid := MentionsAuthUID(v) // the card UID inside another key's value
	if uid {
		f.Value = ""
	}
	i, ok := byKey[f.Key]
	if !ok || Keys[i].ModbusOnly {
		st.Unknown = append(st.Unknown, f)
		return
	}
	p.known++
	spec := &Keys[i]
	if spec.Kind == Private {
		f.Value = "" // not even in a duplicate
	}
	if p.seen[i] {
		st.Invalid = append(st.Invalid, Invalid{f, "duplicate of " + spec.Key})
		return
	}
	p.seen[i] = true
	if v == "" || spec.Kind == Private {
		return
	}
	if uid {
		st.Invalid = append(st.Invalid, Invalid{f, "the value mentions auth_uid (personal data): not exported"})
		return
	}
	val, err := decode(spec, f)
	if err != nil {
		st.Invalid = append(st.Invalid, Invalid{f, err.Error()})
		return
	}
	st.Values = append(st.Values, val)
}

// UnknownStates counts the state-set values in st that are none of their
// key's documented states (newer firmware, a localized UI): each is exported
// as one more state, which no alert selects.
func (st *FullState) UnknownStates() int {
	n := 0
	for i := range st.Values {
		if v := &st.Values[i]; v.Spec.Kind == StateSet && !slices.Contains(v.Spec.States, v.Field.Value) {
			n++
		}
	}
	return n
}

// sniff rejects bodies that are plainly something else, with a message an
// operator recognises.
func sniff(body []byte) error {
	t := bytes.TrimPrefix(bytes.TrimSpace(body), []byte("\ufeff"))
	switch {
	case len(t) == 0:
		return errors.New("empty body")
	case bytes.IndexByte(t, 0) >= 0 || !utf8.Valid(t):
		return errors.New("binary data")
	case t[0] == '<':
		return errors.New("HTML or XML (a login or error page?)")
	case t[0] == '{' || t[0] == '[':
		return errors.New("JSON")
	}
	return nil
}

// CutField splits a line into key and value at its first colon; ok is false
// when the line is not key:value (no colon, or no identifier before it).
func CutField(line string) (k, v string, ok bool) {
	k, v, ok = strings.Cut(line, ":")
	k, v = strings.TrimSpace(k), strings.TrimSpace(v)
	return k, v, ok && validKey(k)
}

// validKey accepts the identifiers controllers use as keys.
func validKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		switch c := k[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// abbreviate keeps error messages short when a device sends a large line.
func abbreviate(s string) string {
	const maxLen = 60
	if len(s) <= maxLen {
		return s
	}
	return s[:maxLen] + "…"
}
