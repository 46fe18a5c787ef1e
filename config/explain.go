package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v2"
	yaml3 "go.yaml.in/yaml/v3"
)

// unknownField is how the YAML decoder reports a field a type lacks.
var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)

// explainYAML rewrites the decoder's messages about unknown fields, which
// name Go types ("field timeuot not found in type config.plain"), in the
// file's terms: the section, the valid fields and the closest of them.
func explainYAML(data []byte, err error) error {
	var doc yaml3.Node
	if yaml3.Unmarshal(data, &doc) != nil {
		return err
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return locateValue(&doc, err)
	}
	msgs := make([]string, len(te.Errors))
	for i, msg := range te.Errors {
		msgs[i] = msg
		m := unknownField.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		line, _ := strconv.Atoi(m[1])
		path, ok := findKey(&doc, line, m[2], nil)
		if !ok {
			continue
		}
		fields := fieldsAt(reflect.TypeFor[Config](), path)
		if fields == nil {
			continue
		}
		section := strings.Join(path, ".")
		if section == "" {
			section = "top level"
		}
		s := fmt.Sprintf("line %d: %s: unknown field %q", line, strings.ReplaceAll(section, ".[", "["), m[2])
		if c := closest(m[2], fields); c != "" {
			s += fmt.Sprintf(" (did you mean %q?)", c)
		}
		msgs[i] = s + "; valid fields: " + strings.Join(fields, ", ")
	}
	return errors.New(strings.Join(msgs, "\n  "))
}

// quoted finds the values an error message quotes.
var quoted = regexp.MustCompile(`"([^"]+)"`)

// locateValue prefixes an error about a value (a field's own decoder
// rejected it, as model.Duration does: `not a valid duration string: "10"`)
// with the line and path of the one value in the file it quotes.
func locateValue(doc *yaml3.Node, err error) error {
	for _, m := range quoted.FindAllStringSubmatch(err.Error(), -1) {
		var hits []string
		var line int
		walkValues(doc, nil, func(path []string, v *yaml3.Node) {
			if v.Value == m[1] {
				hits, line = append(hits, strings.ReplaceAll(strings.Join(path, "."), ".[", "[")), v.Line
			}
		})
		if len(hits) == 1 {
			return fmt.Errorf("line %d: %s: %w", line, hits[0], err)
		}
	}
	return err
}

// walkValues calls fn with every scalar value under n and its path.
func walkValues(n *yaml3.Node, path []string, fn func([]string, *yaml3.Node)) {
	switch n.Kind {
	case yaml3.DocumentNode:
		for _, c := range n.Content {
			walkValues(c, path, fn)
		}
	case yaml3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			walkValues(n.Content[i+1], append(slices.Clip(path), n.Content[i].Value), fn)
		}
	case yaml3.SequenceNode:
		for i, c := range n.Content {
			walkValues(c, append(slices.Clip(path), "["+strconv.Itoa(i)+"]"), fn)
		}
	case yaml3.ScalarNode:
		fn(path, n)
	}
}

// findKey returns the path of the mapping key name on line, as section
// names ("modules", "default") and list indexes ("[2]").
func findKey(n *yaml3.Node, line int, name string, path []string) ([]string, bool) {
	switch n.Kind {
	case yaml3.DocumentNode:
		for _, c := range n.Content {
			if p, ok := findKey(c, line, name, path); ok {
				return p, true
			}
		}
	case yaml3.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Line == line && k.Value == name {
				return path, true
			}
			if p, ok := findKey(v, line, name, append(slices.Clip(path), k.Value)); ok {
				return p, true
			}
		}
	case yaml3.SequenceNode:
		for i, c := range n.Content {
			if p, ok := findKey(c, line, name, append(slices.Clip(path), "["+strconv.Itoa(i)+"]")); ok {
				return p, true
			}
		}
	}
	return nil, false
}

// fieldsAt returns the YAML field names of the struct that path leads to
// from t, or nil when it leads to no struct.
func fieldsAt(t reflect.Type, path []string) []string {
	for {
		t = deref(t)
		if len(path) == 0 {
			break
		}
		switch t.Kind() {
		case reflect.Map, reflect.Slice:
			t, path = t.Elem(), path[1:]
		case reflect.Struct:
			f, ok := fieldByYAML(t, path[0])
			if !ok {
				return nil
			}
			t, path = f, path[1:]
		default:
			return nil
		}
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	return yamlFields(t)
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// yamlFields lists a struct's YAML field names, inline structs' included.
func yamlFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported() || name == "-":
		case strings.Contains(opts, "inline"):
			names = append(names, yamlFields(deref(f.Type))...)
		case name != "":
			names = append(names, name)
		}
	}
	return names
}

func fieldByYAML(t reflect.Type, name string) (reflect.Type, bool) {
	for f := range t.Fields() {
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") {
			if ft, ok := fieldByYAML(deref(f.Type), name); ok {
				return ft, true
			}
		} else if tag == name && f.IsExported() {
			return f.Type, true
		}
	}
	return nil, false
}

// closest is the candidate nearest to s by edit distance, if near enough
// to be a typo.
func closest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+1
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Damerau–Levenshtein distance (adjacent swaps count one).
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
