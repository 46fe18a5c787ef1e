package collector

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The RFID card UID (auth_uid) is personal data: no metric, log line, error
// or debug view may show it, however a controller writes its document. Its
// key is recognised in any spelling that folds to "authuid" (see
// MentionsAuthUID), and lines are split on every line terminator (CutLine),
// so that it cannot hide inside another key's value.

// CutLine cuts s at its first line terminator: \n, \r\n, a bare \r, \v, \f,
// NEL, U+2028 or U+2029. found is false when s has none.
func CutLine(s string) (line, rest string, found bool) {
	for i := 0; i < len(s); i++ {
		n := 0
		switch s[i] {
		case '\n', '\v', '\f':
			n = 1
		case '\r':
			n = 1
			if strings.HasPrefix(s[i:], "\r\n") {
				n = 2
			}
		case 0xc2: // first byte of NEL
			if strings.HasPrefix(s[i:], "\u0085") {
				n = 2
			}
		case 0xe2: // first byte of U+2028 and U+2029
			if strings.HasPrefix(s[i:], "\u2028") || strings.HasPrefix(s[i:], "\u2029") {
				n = 3
			}
		}
		if n > 0 {
			return s[:i], s[i+n:], true
		}
	}
	return s, "", false
}

const authUID = "authuid"

// MentionsAuthUID says whether s holds the key auth_uid in any spelling:
// compatibility forms folded (full-width letters and underscores, NFKC),
// case ignored, and everything but letters and digits dropped (a BOM,
// spaces, underscores, quotes, markup).
func MentionsAuthUID(s string) bool {
	return foldMatch(s, false)
}

// IsAuthUIDKey says whether key is auth_uid in some spelling and nothing else.
func IsAuthUIDKey(key string) bool {
	return foldMatch(key, true)
}

// foldMatch looks for authUID in the folded s; whole: s must fold to it.
// It allocates nothing for ASCII, the common case.
func foldMatch(s string, whole bool) bool {
	j := 0 // letters of authUID matched
	folded := false
	for i := 0; i < len(s); {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			if !folded { // compatibility forms first: start again on the NFKC form
				s, folded, i, j = norm.NFKC.String(s), true, 0, 0
				continue
			}
			r, n = utf8.DecodeRuneInString(s[i:])
		}
		i += n
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
		case 'A' <= r && r <= 'Z':
			r += 'a' - 'A'
		case r < utf8.RuneSelf || !unicode.IsLetter(r) && !unicode.IsDigit(r):
			continue
		default:
			r = unicode.ToLower(r)
		}
		switch {
		case j < len(authUID) && r == rune(authUID[j]):
			j++
		case whole:
			return false
		case r == 'a': // 'a' occurs in authUID only first
			j = 1
		default:
			j = 0
		}
		if j == len(authUID) && !whole {
			return true
		}
	}
	return whole && j == len(authUID)
}

// quote shows a piece of a document in a message: quoted, abbreviated, and
// not at all when it mentions auth_uid.
func quote(s string) string {
	if MentionsAuthUID(s) {
		return "(not shown: it mentions auth_uid, personal data)"
	}
	return strconv.Quote(abbreviate(s))
}
