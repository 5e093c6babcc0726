package bench

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/workflows"
)

// The bench's rules (env writes them) give each shape of call its follow-ups by the call's
// intention_description: the load's calls (the example's intention) get one webhook to the sink.
const (
	intentionNone    = "bench none"
	intentionTwo     = "bench two"
	intentionDelayed = "bench delayed"
	// shapeDelay is how long the delayed shape's follow-up waits on its timer.
	shapeDelay = 3 * time.Second
	// shapeCalls is how many calls of each shape are measured (sent one at a time, so that nothing else
	// shares their workflow tasks).
	shapeCalls = 5
)

var benchRules = fmt.Sprintf(`rules:
  - id: bench
    description: Every call but the cost shapes without an immediate follow-up → one webhook to the sink.
    when: '!(call.intention_description in [%[1]q, %[3]q])'
    actions:
      - {name: sink, type: webhook, target: sink}
  - id: bench-two
    description: The shape with two immediate follow-ups → a second webhook.
    when: 'call.intention_description == %[2]q'
    actions:
      - {name: sink-again, type: webhook, target: sink}
  - id: bench-delayed
    description: The shape with one follow-up that waits on a timer.
    when: 'call.intention_description == %[3]q'
    actions:
      - {name: sink-later, type: webhook, target: sink, delay: %[4]s}
`, intentionNone, intentionTwo, intentionDelayed, shapeDelay)

// ShapeCost is what one shape of call costs in Temporal, per call.
type ShapeCost struct {
	Shape string `json:"shape"`
	Calls int    `json:"calls"`
	Cost
}

// shape is a kind of call whose cost the bench reads: calls with an intention that the bench's rules
// give its follow-ups; legacy ones are run by the workflow types before the one pipeline
// (CallCompletedWorkflow with a FollowUpWorkflow child per follow-up), still registered for the
// executions they have open, to compare with.
type shape struct {
	name      string
	intention string
	legacy    bool
}

var shapes = []shape{
	{"no follow-up", intentionNone, false},
	{"one immediate follow-up", "", false},
	{"two immediate follow-ups", intentionTwo, false},
	{"one follow-up delayed by a timer", intentionDelayed, false},
	{"two immediate follow-ups, before (CallCompletedWorkflow + FollowUpWorkflow children)", intentionTwo, true},
}

// measureShapes sends shapeCalls calls of each shape through serve (p posts to it) one at a time, or
// starts their legacy workflows, and reads what their histories cost.
func (st *runState) measureShapes(ctx context.Context, p *poster, api *process) ([]ShapeCost, error) {
	var out []ShapeCost
	for i, sh := range shapes {
		st.log("measuring what a call costs in Temporal", "shape", sh.name, "calls", shapeCalls)
		var sum Cost
		for k := range shapeCalls {
			c, err := st.shapeCall(ctx, p, api, sh, fmt.Sprintf("shape%d-%s-%d", i, randomHex(4), k))
			if err != nil {
				return out, fmt.Errorf("shape %q: %w", sh.name, err)
			}
			sum.add(c)
		}
		out = append(out, ShapeCost{Shape: sh.name, Calls: shapeCalls, Cost: sum.scaled(1.0 / shapeCalls)})
	}
	return out, nil
}

// shapeCall sends one call of shape sh, made now (its follow-up's delay counts from its end), waits until
// its workflow and every run it led to have closed, and reads their cost.
func (st *runState) shapeCall(ctx context.Context, p *poster, api *process, sh shape, prefix string) (Cost, error) {
	b, err := makeBodies(prefix, 1, st.key, sh.intention)
	if err != nil {
		return Cost{}, err
	}
	id := workflows.CallWorkflowID("bench", b.IDs[0])
	if sh.legacy {
		if err := st.startLegacy(ctx, id, b.Bodies[0]); err != nil {
			return Cost{}, err
		}
	} else {
		if err := p.post(ctx, b.Bodies[0]); err != nil {
			return Cost{}, err
		}
		// Its workflow starts when the relay takes it from the inbox: stored means it ran.
		if _, err := st.waitStored(ctx, b, api); err != nil {
			return Cost{}, err
		}
	}
	return callCost(ctx, st.temporal, id)
}

// startLegacy starts the workflow that handled a call before the one pipeline, as its receiver did then:
// the call as its input, search attributes upserted by the workflow.
func (st *runState) startLegacy(ctx context.Context, id string, body []byte) error {
	doc, err := airudder.Decode(body)
	if err != nil {
		return err
	}
	cc, err := doc.CallCompleted(airudder.ParseOptions{})
	if err != nil {
		return err
	}
	calls := cc.Received("bench", time.Now().UTC())
	_, err = st.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: st.queue},
		workflows.CallCompletedWorkflow, workflows.CallCompletedInput{Call: calls[0]})
	return err
}
