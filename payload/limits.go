package payload

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"unicode/utf8"
)

// What a Temporal server takes, in one place. Each number is the default of the server's dynamic
// configuration (go.temporal.io/server v1.32.1, common/dynamicconfig/constants.go); a cluster may lower
// them, Temporal Cloud documents the same values. rudderhook stays inside them, with room to spare where
// an encrypting codec (package codec) makes a payload larger than its JSON.
const (
	// BlobSizeLimit is limit.blobSize.error: the largest payload (a workflow's input, an activity's
	// input or result, a signal's argument). limit.blobSize.warn is 512 KiB; InlineLimit stays far below.
	BlobSizeLimit = 2 * 1024 * 1024
	// MaxIDLength is limit.maxIDLength: the longest workflow ID, signal name, activity ID…, in bytes.
	MaxIDLength = 1000
	// SearchAttributeValueLimit is frontend.searchAttributesSizeOfValueLimit: the largest value of one
	// search attribute, as its encoded payload data (a keyword's JSON string, quotes and escapes included).
	SearchAttributeValueLimit = 2 * 1024
	// SearchAttributesTotalLimit is frontend.searchAttributesTotalSizeLimit: all of a workflow's search
	// attributes together, as a protobuf message.
	SearchAttributesTotalLimit = 40 * 1024
	// SummaryLimit is limit.userMetadataSummarySize: the summary a workflow (StaticSummary) or an activity
	// shows in the UI, as an encoded payload (metadata included).
	SummaryLimit = 400
	// DetailsLimit is limit.userMetadataDetailsSize: a workflow's StaticDetails, as an encoded payload.
	DetailsLimit = 20000
)

// Budgets that keep rudderhook's own values inside those limits whatever the text holds.
const (
	// SearchTextLimit is the most bytes of text a search attribute value keeps. JSON may write a byte of
	// text as six ("\u001f"), so 300 bytes stay under SearchAttributeValueLimit in any case; the six
	// attributes together stay far under SearchAttributesTotalLimit.
	SearchTextLimit = 300
	// SummaryTextLimit and DetailsTextLimit bound the JSON encoding of a summary and of details (see
	// CutJSON), leaving room in SummaryLimit and DetailsLimit for the payload's metadata and an encrypting
	// codec's envelope (package codec adds about 100 bytes; its tests check the total).
	SummaryTextLimit = 250
	DetailsTextLimit = 19000
)

// CutHashed shortens s to at most n bytes, keeping a prefix and a short hash of the whole, so that two
// long values that differ only after the prefix still differ: "7777…#3f9a1c2b". A value of n bytes or
// less is returned as it is, so cutting twice gives the same as cutting once.
func CutHashed(s string, n int) string {
	if len(s) <= n {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	suffix := "…#" + hex.EncodeToString(sum[:4])
	return cutBytes(s, n-len(suffix)) + suffix
}

// Cut shortens s to at most n bytes without splitting a UTF-8 character, ending a cut text with "…".
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return cutBytes(s, n-len("…")) + "…"
}

// cutBytes is the longest prefix of s of at most n bytes that does not split a character.
func cutBytes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// CutJSON shortens s, as Cut does, until its JSON encoding (what a Temporal payload holds) is at most n
// bytes: JSON writes a control character or "<" as six bytes.
func CutJSON(s string, n int) string {
	if jsonLen(s) <= n {
		return s
	}
	// The longest prefix whose cut form fits; jsonLen grows with the prefix.
	keep := sort.Search(len(s)+1, func(i int) bool { return jsonLen(cutBytes(s, i)+"…") > n }) - 1
	return cutBytes(s, max(keep, 0)) + "…"
}

// jsonLen is the length of s as encoding/json writes it (what the SDK's JSON payloads hold), counted
// without encoding: workflow code calls it, and encoding/json's reflection is off limits there.
func jsonLen(s string) int {
	n := 2 // quotes
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
			n += 2
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029' || (r == utf8.RuneError && size == 1):
			n += 6 // \u00XX; a byte that is not UTF-8 becomes \ufffd
		default:
			n += size
		}
	}
	return n
}
