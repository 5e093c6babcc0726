package ingest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/codec"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/payload"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
	"github.com/rudderhook/rudderhook/workflows"
)

// The property: whatever the receiver would acknowledge (whatever ReadCallCompleted accepts) can be
// stored. Each call of it goes through the real INSERT of its revision into PostgreSQL, its body through
// the inbox and back, and its workflow's start options and input through the limits that the Temporal
// server applies (payload/limits.go), as encoded by the data converters a client uses (plain JSON, and
// encrypted by package codec, which makes payloads larger). What the parser refuses must be a 4xx.

// storableCheck holds what the property needs: a database and the data converters.
type storableCheck struct {
	st  *store.Store
	src *config.Source
	dcs map[string]converter.DataConverter
}

func newStorableCheck(t testing.TB) *storableCheck {
	t.Helper()
	cfg, err := config.Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := codec.Parse("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	// One connection without waiting for the disk at each commit: this database lives for one test, and
	// the property is about what PostgreSQL accepts, not whether it survives a crash.
	db := storetest.DB(t)
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`SET synchronous_commit TO off`); err != nil {
		t.Fatal(err)
	}
	return &storableCheck{
		st:  store.New(db),
		src: cfg.Sources[airudder.DefaultKey],
		dcs: map[string]converter.DataConverter{"json": converter.GetDefaultDataConverter(), "encrypted": c.DataConverter()},
	}
}

// check fails t for a body that would be acknowledged but cannot be stored.
func (sc *storableCheck) check(t testing.TB, body []byte) {
	t.Helper()
	cc, err := ingest.ReadCallCompleted(body, sc.src, ingest.AlreadyVerified)
	if err != nil {
		var se *airudder.SyntaxError
		var ve *airudder.ValidationError
		if !errors.As(err, &se) && !errors.As(err, &ve) {
			t.Fatalf("refused with an error that is no 4xx: %v", err)
		}
		if ve != nil && len(ve.Fields) == 0 {
			t.Fatalf("422 without a named field: %v", err)
		}
		return
	}
	ctx := context.Background()
	received := time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC)
	calls := cc.Received("airudder", received)
	for _, rc := range calls {
		sc.checkStart(t, rc)
		rules.FactsOf(rc) // what the rules see is built from every call
		subj, id := airudder.CallSubject(rc), workflows.CallWorkflowID(rc.Source, rc.Key)
		if rc.Large() { // the receiver stores it, the workflow marks it processed
			if _, err := sc.st.StoreRevision(ctx, subj, id, false); err != nil {
				t.Fatalf("acknowledged, but PostgreSQL refuses the large call %q: %v", payload.Cut(rc.Key, 80), err)
			}
			if _, err := sc.st.MarkProcessed(ctx, id, rc.Digest); err != nil {
				t.Fatalf("large call %q not found by its digest: %v", payload.Cut(rc.Key, 80), err)
			}
		} else if _, err := sc.st.StoreRevision(ctx, subj, id, true); err != nil {
			t.Fatalf("acknowledged, but PostgreSQL refuses call %q: %v", payload.Cut(rc.Key, 80), err)
		}
	}
	// Temporal down: the inbox keeps the body without its Sign, and the relay reads the same calls back.
	unsigned, err := cc.Unsigned()
	if err != nil {
		t.Fatalf("unsigned body: %v", err)
	}
	id, err := sc.st.AddToInbox(ctx, "airudder", airudder.KindCallCompleted, unsigned, received)
	if err != nil {
		t.Fatalf("acknowledged, but the inbox refuses the body: %v", err)
	}
	again, err := ingest.ReadCallCompleted(unsigned, sc.src, ingest.AlreadyVerified)
	if err != nil {
		t.Fatalf("inbox entry %d no longer reads: %v", id, err)
	}
	for i, rc := range again.Received("airudder", received) {
		if rc.Digest != calls[i].Digest || rc.Key != calls[i].Key {
			t.Fatalf("inbox entry %d reads as another revision of call %d", id, i)
		}
		if !reflect.DeepEqual(rc.ParseNotes, calls[i].ParseNotes) {
			t.Fatalf("inbox entry %d reads call %d with parse notes %+v, not those received: %+v", id, i, rc.ParseNotes, calls[i].ParseNotes)
		}
	}
}

// checkStart fails t when the call's workflow start, as the receiver makes it, is over a limit of the
// Temporal server.
func (sc *storableCheck) checkStart(t testing.TB, rc airudder.ReceivedCall) {
	t.Helper()
	opts := workflows.SubjectStartOptions(airudder.CallSubject(rc), "")
	if len(opts.ID) > payload.MaxIDLength || !utf8.ValidString(opts.ID) {
		t.Fatalf("workflow ID of %d bytes (valid UTF-8: %v)", len(opts.ID), utf8.ValidString(opts.ID))
	}
	in := workflows.NewSubjectInput(airudder.CallSubject(rc), false)
	if rc.Large() {
		in = workflows.NewSubjectInput(airudder.CallSubject(rc.Slim()), true)
	}
	// Search attributes are always plain JSON (the SDK does not run them through a codec).
	sa := &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{}}
	for key, v := range opts.TypedSearchAttributes.GetUntypedValues() {
		p, err := converter.GetDefaultDataConverter().ToPayload(v)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.GetData()) > payload.SearchAttributeValueLimit {
			t.Fatalf("search attribute %s of %d bytes", key.GetName(), len(p.GetData()))
		}
		sa.IndexedFields[key.GetName()] = p
	}
	if n := proto.Size(sa); n > payload.SearchAttributesTotalLimit {
		t.Fatalf("search attributes of %d bytes", n)
	}
	for name, dc := range sc.dcs {
		for what, v := range map[string]struct {
			value any
			limit int
		}{
			"summary": {opts.StaticSummary, payload.SummaryLimit},
			"details": {opts.StaticDetails, payload.DetailsLimit},
			"input":   {in, payload.BlobSizeLimit},
		} {
			p, err := dc.ToPayload(v.value)
			if err != nil {
				t.Fatalf("%s %s: %v", name, what, err)
			}
			if n := proto.Size(p); n > v.limit {
				t.Fatalf("%s %s of %d bytes, over Temporal's %d", name, what, n, v.limit)
			}
		}
	}
}

// oddValues are JSON values that senders really write, and values at and past what PostgreSQL and
// Temporal take. Raw JSON text, since encoding/json never writes some of them (a lone surrogate).
var oddValues = []string{
	`"\ud800"`, `"a\udc00b"`, `"\ud83d\ude00 ok"`, `"\u0000"`, `"x\u0000\ud800y"`, `""`, `"null"`, `null`, `true`,
	`[]`, `{}`, `[1,"a",{}]`, `{"a\u0000":"b","\ud800":1}`, `{"n":1e131072}`, `{"n":0.1e131072}`,
	`"12,000.00"`, `"12.000,00"`, `"1,20,000.00"`, `"Rp 12.000"`, `"20000.00"`, `20310.5`, `-0`, `1e3`,
	`"31/12/2024"`, `"2024-12-31"`, `"0000-01-01"`, `"9999-12-31"`, `"10000-01-01"`,
	`"0001-01-01T00:00:00+01:00"`, `"9999-12-31T23:59:59-01:00"`, `"2024-03-11 10:19:27"`, `"2024-03-11T03:20:30Z"`,
	`9223372036854775807`, `9223372036854775808`, `99999999999999999999`, `1.5`, `"2"`, `"two"`,
	`1e-16383`, `1e-16384`, `0.000e-16381`,
}

// oddText returns a string value of n bytes: incompressible letters, or text full of characters that
// JSON writes as six bytes.
func oddText(r *rand.Rand, n int) string {
	var b strings.Builder
	b.WriteByte('"')
	escapes := r.IntN(2) == 0
	for b.Len() < n {
		switch {
		case escapes && r.IntN(3) == 0:
			b.WriteString(`\u001f<&`)
		default:
			b.WriteByte(byte('a' + r.IntN(26)))
		}
	}
	b.WriteByte('"')
	return b.String()
}

// specFields are the names a generated body puts odd values under.
var specFields = []string{
	"id", "RobotID", "CalleeName", "CalleeGender", "CalleeNumber", "CallStartTime", "CallEndTime", "Status",
	"Intention", "intention_description", "CallID", "CallTimes", "Comments", "BorrowedDate", "DueDate",
	"BorrowedAmount", "TotalOwingAmount", "CurrencyUnit", "PlatformName", "RingType", "HangupType", "ExtraA",
	"NerSlots", "AsrResult", "AskWhatsAPP", "AsrPTP", "Multi_intention", "EventLabel", "RingTime", "TalkRound",
	"RedailCall", "CaseID", "Variables", "caller_number", "FieldAirudderAddedLater", "a\\u0000b", "\\ud800",
}

var redialFields = []string{"CallID", "CallStartTime", "RingType", "RingTime", "HangupType", "ResultLabel", "callee_number", "caller_number"}

var envelopeFields = []string{"TaskID", "TaskName", "workflow_id", "workflow_name", "nodetask_id", "nodetask_name", "Extra"}

// oddBody is the seed callback with a few fields of its calls and envelope set to odd values; large
// says whether texts may be large (up to 140 kB, past payload.InlineLimit).
func oddBody(t testing.TB, r *rand.Rand, large bool) []byte {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(airudder.ExampleCallCompleted, &env); err != nil {
		t.Fatal(err)
	}
	var details []map[string]json.RawMessage
	if err := json.Unmarshal(env["Details"], &details); err != nil {
		t.Fatal(err)
	}
	value := func() string {
		sizes := []int{300, 2100, 3000}
		if large {
			sizes = append(sizes, 20_000, 140_000)
		}
		switch r.IntN(9) {
		case 0:
			return oddText(r, sizes[r.IntN(len(sizes))])
		case 8: // many elements that are each noted (an array of numbers where objects belong)
			n := 30
			if large {
				n = 30_000
			}
			return "[" + strings.Repeat("1,", n) + "1]"
		case 1:
			depth := []int{10, 500, 5000}[r.IntN(3)]
			return strings.Repeat("[", depth) + strings.Repeat("]", depth)
		default:
			return oddValues[r.IntN(len(oddValues))]
		}
	}
	out := []string{}
	for i := range 1 + r.IntN(3) {
		d := map[string]string{}
		for k, v := range details[0] {
			d[k] = string(v)
		}
		d["CallID"] = fmt.Sprintf(`"call-%d-%d"`, r.IntN(1000), i)
		for range 1 + r.IntN(4) {
			d[specFields[r.IntN(len(specFields))]] = value()
		}
		if r.IntN(4) == 0 { // an odd value inside a redial, which has columns and indexes of its own
			var redials []map[string]json.RawMessage
			if err := json.Unmarshal(details[0]["RedailCall"], &redials); err != nil || len(redials) == 0 {
				t.Fatalf("the seed's RedailCall: %v", err)
			}
			rd := map[string]string{}
			for k, v := range redials[0] {
				rd[k] = string(v)
			}
			odd := value()
			if r.IntN(2) == 0 { // long text: redials have indexed text columns too
				odd = oddText(r, []int{300, 3000, 20_000}[r.IntN(3)])
			}
			rd[redialFields[r.IntN(len(redialFields))]] = odd
			d["RedailCall"] = "[" + rawObject(rd) + "]"
		}
		if r.IntN(10) == 0 { // a key at and past the limit
			d["CallID"] = `"` + strings.Repeat("k", []int{511, 512, 513, 900}[r.IntN(4)]) + `"`
		}
		out = append(out, rawObject(d))
	}
	e := map[string]string{}
	for k, v := range env {
		e[k] = string(v)
	}
	if r.IntN(3) == 0 {
		e[envelopeFields[r.IntN(len(envelopeFields))]] = value()
	}
	e["Details"] = "[" + strings.Join(out, ",") + "]"
	return []byte(rawObject(e))
}

// rawObject writes an object whose keys and values are raw JSON text already ("\\u0000" stays an escape).
func rawObject(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for k, v := range m {
		if !strings.HasPrefix(k, `"`) {
			k = `"` + k + `"`
		}
		parts = append(parts, k+":"+v)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestAcknowledgedIsStorable checks the property on generated bodies: the seed callback with odd values
// (lone surrogates, NUL, text over Temporal's limits, numbers past numeric, dates PostgreSQL lacks, deep
// nesting, wrong types, keys at the workflow ID limit). The seed of the generator is printed on failure;
// set RUDDERHOOK_PROPERTY_SEED to run another set.
func TestAcknowledgedIsStorable(t *testing.T) {
	t.Parallel()
	seed := uint64(20260311)
	if s := os.Getenv("RUDDERHOOK_PROPERTY_SEED"); s != "" {
		if _, err := fmt.Sscan(s, &seed); err != nil {
			t.Fatal(err)
		}
	}
	sc := newStorableCheck(t)
	r := rand.New(rand.NewPCG(seed, 0))
	cases := 400
	if testing.Short() {
		cases = 100
	}
	for i := range cases {
		body := oddBody(t, r, true)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Logf("seed %d, case %d, body: %s", seed, i, payload.Cut(string(body), 2000))
				}
			}()
			sc.check(t, body)
		})
	}
}

// FuzzAcknowledgedIsStorable is the same property over bodies the fuzzer makes (`make fuzz`). Its seeds
// stay small: each run writes to PostgreSQL, and the fuzzer minimizes every new input it finds.
func FuzzAcknowledgedIsStorable(f *testing.F) {
	for _, name := range []string{"call_completion.json", "list_completed.json", "status_changed.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		f.Add(oddBody(f, r, false))
	}
	sc := newStorableCheck(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		sc.check(t, body)
	})
}
