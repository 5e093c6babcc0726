// Package payload is the one policy for how much data rudderhook puts inside a Temporal payload.
// Temporal refuses a payload over 2 MB (and warns from 512 KB), and one value often travels more than once
// (a call as typed fields and as raw JSON, in a workflow's input and again in an activity's); anything
// larger than InlineLimit is kept in PostgreSQL and read back by the activity that needs it.
//
// It is a leaf: the domain packages (airudder, rules) import it and it imports nothing of rudderhook's.
package payload

// InlineLimit is the largest piece of data (a raw call with its envelope, a webhook body) that travels
// inside Temporal payloads.
const InlineLimit = 128 << 10

// PlanBodyLimit is the largest webhook body that a workflow's copy of a follow-up's plan carries. A
// larger one stays in the store, where the action reads it when it sends: by default a webhook sends the
// whole call, transcript and all, and a call's history then holds the call once (its delivery), not once
// more in every follow-up's plan.
const PlanBodyLimit = 1 << 10

// Fits reports whether n bytes may travel inside a Temporal payload.
func Fits(n int) bool { return n <= InlineLimit }
