package airudder

import _ "embed"

// ExampleCallCompleted is the call-completion example of Airudder's API page, with its Sign recomputed for
// the default key "airudder". `rudderhook send` posts it when given no file, and tests start from it.
//
//go:embed testdata/call_completion.json
var ExampleCallCompleted []byte

// DefaultKey is the Sign key Airudder uses when the integrator configures none.
const DefaultKey = "airudder"
