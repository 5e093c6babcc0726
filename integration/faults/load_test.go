package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/workflows"
)

// rulesDoc are the follow-up rules every scenario runs: a webhook to the sink for every call, and a second
// one for the calls that need a follow-up, so that calls have one or two effects.
const rulesDoc = `time_zone: UTC
rules:
  - id: every-call
    description: Every call is reported to the CRM.
    when: "true"
    actions:
      - {name: crm-update, type: webhook, target: sink}
  - id: needs-follow-up
    description: Needs follow-up → an agent task in the CRM.
    when: call.intention_description == "Needs Follow Up"
    actions:
      - {name: agent-task, type: webhook, target: sink, fields: {queue: collections}}
`

// source is the receiver the load posts to: the built-in source's name, on a Sign key of the suite's own
// (signKey), since serve and worker refuse Airudder's public default key.
const (
	source  = "airudder"
	signKey = "faults-suite-sign-key-0123456789abcdef"
)

// Kinds of callback. Every kind is a valid call-completion envelope, as Airudder sends them.
const (
	kindPlain = "plain"
	// kindUnparsable has fields that do not parse into their types as a tenant's upload wrote them
	// ("CallTimes": "2", a date with slashes, an amount with a decimal comma). docs/design.md: Keep what the
	// sender wrote — such a call is kept, with the original text and a parse note; it is never refused.
	kindUnparsable = "unparsable fields"
	// kindNUL and kindSurrogate hold text PostgreSQL cannot store as it is (the NUL character; half an
	// emoji, a lone UTF-16 surrogate escape). docs/design.md: Ack after durability — refused before the ack,
	// or stored safely.
	kindNUL       = "NUL in a name"
	kindSurrogate = "lone surrogate in a name"
	// kindLongCaseID has a CaseID over Temporal's 2 KiB search-attribute limit: refused before the ack,
	// or stored safely.
	kindLongCaseID = "CaseID over 2 KiB"
	// kindRedelivery is a callback posted again, byte for byte, after it was acknowledged: a no-op.
	kindRedelivery = "identical redelivery"
	// kindCorrection is a callback posted again with a corrected field (the callee's name) after the first
	// was acknowledged. docs/design.md: Revisions, not overwrites — a new revision, kept and shown as the
	// latest.
	kindCorrection = "corrected redelivery"
)

// callback is one body the sender posts, what must follow from it, and how the receiver answered.
type callback struct {
	kind  string
	body  []byte
	calls []sentCall
	// mayRefuse: a 4xx is a correct answer for this body (it holds something no store can keep).
	mayRefuse bool
	// latestCallee is, for a correction, the callee name each of its calls must show once stored.
	latestCallee string

	acked   bool
	refused int // the 4xx status the receiver refused it with for good
}

type sentCall struct {
	key       string   // the call's key in rudderhook (its CallID)
	followUps []string // the webhook-ids rulesDoc must deliver for it
}

// loadBuilder makes signed callbacks shaped like the seed's example, with call IDs unique to one run.
type loadBuilder struct {
	runID          string
	seed           map[string]any
	seedDetail     map[string]any
	longTranscript []any
	next           int // sequence of the next body
}

func newLoadBuilder(runID string) (*loadBuilder, error) {
	var seed map[string]any
	dec := json.NewDecoder(bytes.NewReader(airudder.ExampleCallCompleted))
	dec.UseNumber()
	if err := dec.Decode(&seed); err != nil {
		return nil, err
	}
	lb := &loadBuilder{runID: runID, seed: seed, seedDetail: seed["Details"].([]any)[0].(map[string]any)}
	for i := range 1500 {
		lb.longTranscript = append(lb.longTranscript, map[string]any{
			"time": fmt.Sprintf("00:%02d:%02d", i/60%60, i%60), "robottext": "Apakah Bapak bisa melakukan pembayaran hari ini?",
			"text": "saya akan bayar minggu depan, tolong jangan telepon lagi",
		})
	}
	return lb, nil
}

// plain builds n ordinary callbacks: one body in four carries three calls and one in four two; one in 25
// has a call with a transcript over 128 KiB (stored before its workflow starts); half the bodies' first
// call needs a follow-up.
func (lb *loadBuilder) plain(n int) ([]*callback, error) {
	out := make([]*callback, 0, n)
	for range n {
		i := lb.next
		calls := 1
		switch i % 4 {
		case 0:
			calls = 3
		case 1:
			calls = 2
		}
		cb, err := lb.build(kindPlain, calls, func(j int, d map[string]any) {
			if j == 0 && i%25 == 7 {
				d["AsrResult"] = lb.longTranscript
			}
		})
		if err != nil {
			return nil, err
		}
		out = append(out, cb)
	}
	return out, nil
}

// build makes the next body with calls details, each edited by edit.
func (lb *loadBuilder) build(kind string, calls int, edit func(j int, d map[string]any)) (*callback, error) {
	i := lb.next
	lb.next++
	env := maps.Clone(lb.seed)
	taskID := fmt.Sprintf("%s%06d", lb.runID, i)
	env["TaskID"] = taskID
	env["Sign"] = airudder.Sign(taskID, signKey)
	cb := &callback{kind: kind}
	var details []any
	for j := range calls {
		d := maps.Clone(lb.seedDetail)
		seq := i*10 + j
		callID := fmt.Sprintf("%s-%05d-%d", lb.runID, i, j)
		d["CallID"] = callID
		d["id"] = json.Number(strconv.Itoa(3_000_000_000 + seq))
		d["CalleeNumber"] = fmt.Sprintf("+6281%08d", seq)
		d["CaseID"] = fmt.Sprintf("%d.0", 9_000_000+i)
		needsFollowUp := j == 0 && i%2 == 0
		if !needsFollowUp {
			d["Intention"], d["intention_description"] = "A", "Promise To Pay"
		}
		edit(j, d)
		details = append(details, d)
		wf := workflows.CallWorkflowID(source, callID)
		sc := sentCall{key: callID, followUps: []string{rules.FollowUpKey(wf, "every-call", "crm-update")}}
		if needsFollowUp {
			sc.followUps = append(sc.followUps, rules.FollowUpKey(wf, "needs-follow-up", "agent-task"))
		}
		cb.calls = append(cb.calls, sc)
	}
	env["Details"] = details
	b, err := marshal(env)
	if err != nil {
		return nil, err
	}
	cb.body = b
	return cb, nil
}

// loneSurrogate stands for the JSON escape of half an emoji, which encoding/json cannot write.
const loneSurrogate = "LONE_SURROGATE_ESCAPE"

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return bytes.ReplaceAll(b, []byte(loneSurrogate), []byte(`\ud83d`)), err
}

// odd builds the callbacks of the odd-bodies scenario that come with the load: a few of each kind whose
// contents a store or Temporal may choke on.
func (lb *loadBuilder) odd() ([]*callback, error) {
	var out []*callback
	for _, k := range []struct {
		kind      string
		n         int
		mayRefuse bool
		edit      func(j int, d map[string]any)
	}{
		{kindUnparsable, 8, false, func(_ int, d map[string]any) {
			d["CallTimes"], d["DueDate"], d["BorrowedAmount"] = "2", "02/03/2024", "20.000,00"
		}},
		{kindNUL, 3, true, func(_ int, d map[string]any) { d["CalleeName"] = "WILL\x00SMITH" }},
		{kindSurrogate, 3, true, func(_ int, d map[string]any) { d["CalleeName"] = "WILL SMITH " + loneSurrogate }},
		{kindLongCaseID, 3, true, func(_ int, d map[string]any) { d["CaseID"] = strings.Repeat("case-7777777.0/", 150) }},
	} {
		for range k.n {
			cb, err := lb.build(k.kind, 1, k.edit)
			if err != nil {
				return nil, err
			}
			cb.mayRefuse = k.mayRefuse
			out = append(out, cb)
		}
	}
	return out, nil
}

// redeliveries are, for plain callbacks the receiver acknowledged, one in ten posted again as they were
// and one in twenty posted again with the callee's name corrected in every call.
func redeliveries(sent []*callback) ([]*callback, error) {
	var out []*callback
	for i, cb := range sent {
		if cb.kind != kindPlain || !cb.acked {
			continue
		}
		if i%10 == 3 {
			out = append(out, &callback{kind: kindRedelivery, body: cb.body, calls: cb.calls})
		}
		if i%20 == 5 {
			var env map[string]any
			dec := json.NewDecoder(bytes.NewReader(cb.body))
			dec.UseNumber()
			if err := dec.Decode(&env); err != nil {
				return nil, err
			}
			const corrected = "WILL SMITH (corrected)"
			for _, d := range env["Details"].([]any) {
				d.(map[string]any)["CalleeName"] = corrected
			}
			b, err := marshal(env)
			if err != nil {
				return nil, err
			}
			out = append(out, &callback{kind: kindCorrection, body: b, calls: cb.calls, latestCallee: corrected})
		}
	}
	return out, nil
}

// interleave spreads extra among load, so that odd bodies arrive among the others.
func interleave(load, extra []*callback) []*callback {
	if len(extra) == 0 {
		return load
	}
	out := make([]*callback, 0, len(load)+len(extra))
	every := max(1, len(load)/len(extra))
	for i, cb := range load {
		out = append(out, cb)
		if k := i / every; i%every == every-1 && k < len(extra) {
			out = append(out, extra[k])
		}
	}
	for k := len(load) / every; k < len(extra); k++ {
		out = append(out, extra[k])
	}
	return out
}
