package collector

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// The text format's small pieces: label order, numbers, escaping.

// sortLabels sorts a few labels by name in place (an insertion sort: no
// allocation, and the labels are almost always sorted already).
func sortLabels(ls [][2]string) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j][0] < ls[j-1][0]; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

// appendFloat formats like the Prometheus text format does.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 0:
		return append(b, '0')
	case f == 1:
		return append(b, '1')
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\n\"") {
		return s
	}
	return labelEscaper.Replace(s)
}

func writeEscaped(b *bytes.Buffer, s string) {
	if !strings.ContainsAny(s, "\\\n\"") {
		b.WriteString(s)
		return
	}
	_, _ = labelEscaper.WriteString(b, s)
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}
