package airudder

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// NumberKeys key the hashes that stand for a phone number where rudderhook would otherwise show the
// number to whoever reads Temporal (its Web UI, its visibility store, the IDs in its histories and
// logs). The hash is keyed (HMAC-SHA256): a plain hash of a phone number is no secret, since hashing
// every number of a country's plan takes minutes; without the key nobody can tell which number a hash
// stands for.
type NumberKeys struct {
	// ID keys the number in an event's key, and so in its workflow ID (a list completion's
	// ".../tel:{hash}"). Workflow IDs are idempotency keys: it must be the same on every replica and never
	// change, or a redelivery would start a second workflow, so it is the installation's own key, made once
	// and kept in PostgreSQL (store.InstallationKey), never the PII key that an operator may rotate.
	ID []byte
	// Search, when set (RUDDERHOOK_PII_KEY), keys the CalleeNumber search attribute, which then holds
	// HashNumber(Search, number) instead of the number (`rudderhook pii hash NUMBER` prints it). Empty: the
	// attribute holds the number itself.
	Search []byte
}

// CalleeSearch is the value that stands for number in the CalleeNumber search attribute when a PII key
// is set (see Search); "" when none is, or the number is empty.
func (k NumberKeys) CalleeSearch(number string) string {
	if len(k.Search) == 0 || number == "" {
		return ""
	}
	return HashNumber(k.Search, number)
}

// WithCalleeSearch is the subject with the search value of its callee's number set (see CalleeSearch):
// what the receiver computes, and a subject read back from the store lacks.
func (k NumberKeys) WithCalleeSearch(s Subject) Subject {
	if s.Call != nil {
		c := *s.Call
		c.CalleeNumberHMAC = k.CalleeSearch(c.Call.CalleeNumber)
		return CallSubject(c)
	}
	e := *s.Event
	e.CalleeNumberHMAC = k.CalleeSearch(e.CalleeNumber)
	return EventSubject(e)
}

// HashNumber is the keyed hash of a phone number: the first 128 bits of HMAC-SHA256 under key of the
// number as NormalizeNumber writes it, in 32 hex digits. 128 bits keep any two numbers apart; they are
// what an operator pastes into a query, so shorter than the whole.
func HashNumber(key []byte, number string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(NormalizeNumber(number)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// NormalizeNumber writes a phone number without the characters people put between its digits (spaces,
// dashes, dots, slashes, brackets), so that "+62 812-3456-7890" and "+6281234567890" hash alike. Nothing
// else changes: a leading 0 or + stays, as Airudder sent it.
func NormalizeNumber(number string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '-', '.', '/', '(', ')', '\u00a0':
			return -1
		}
		return r
	}, strings.TrimSpace(number))
}
