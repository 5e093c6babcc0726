package faults

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lib/pq"
	"go.temporal.io/api/workflowservice/v1"
)

// tally is everything counted at the end of a scenario: at the sender, in PostgreSQL, at the sink and in
// Temporal. Calls are counted by key, follow-ups by webhook-id.
type tally struct {
	bodies, bodiesAcked int
	refused             int // callbacks refused with a 4xx
	refusedWrongly      int // … though nothing in them is beyond storing (docs/design.md: Keep what the sender wrote)
	callsSent           int
	callsAcked          int
	attempts            int
	answers             map[int]int
	byKind              map[string]*kindTally

	revisions     int // calls of acknowledged corrections
	revisionsLost int // … whose stored call does not show the correction

	stored      int // distinct calls in the calls table
	dupRows     int // rows beyond one per call key
	dupRevs     int // revisions beyond one per distinct delivery, when the schema keeps revisions
	lost        int // acknowledged, not stored
	phantom     int // stored, never sent
	storedUnack int // stored though the sender never got a 200 (allowed: it may have given up too early)

	fuExpected   int            // follow-ups the rules must produce for the acknowledged and stored calls
	fuByStatus   map[string]int // rows in follow_ups by status
	fuMissing    int            // expected, no row
	fuUnexpected int            // a row nobody expected
	fuUnsettled  int            // expected, row not succeeded

	delivered       int // distinct expected webhook-ids the sink received
	raw             int // every request the sink received
	repeats         int // raw − distinct: at-least-once repeats of a webhook-id
	deliveryMissing int // expected, never received
	deliveryOther   int // received webhook-ids nobody expected (or none at all)

	inboxPending, inboxDead int
	inboxWritten            int // callbacks that went through the inbox, read from its id sequence
	fuAttempts              int // attempts at all follow-ups (follow_ups.attempts)

	openCalls, openFollowUps int64 // running workflows
	callRuns                 int64 // executions of a call's workflow
	callRunsNotCompleted     int64 // closed, but failed, timed out, terminated or cancelled
}

// kindTally counts the callbacks of one kind.
type kindTally struct {
	sent, acked, refused int
	calls, lost          int // calls of acknowledged callbacks; of those, not stored (or, for a correction, not shown)
}

// problems are the reasons the system has not drained: empty means every acknowledged call is stored
// once, every follow-up delivered and succeeded, and nothing waits anywhere.
func (tl *tally) problems() []string {
	var p []string
	add := func(n int64, format string) {
		if n > 0 {
			p = append(p, fmt.Sprintf(format, n))
		}
	}
	add(int64(tl.lost), "%d acknowledged calls not stored")
	add(int64(tl.revisionsLost), "%d acknowledged corrections not stored as the call's latest revision")
	add(int64(tl.refusedWrongly), "%d callbacks refused (4xx) though a store can keep everything in them")
	add(int64(tl.dupRows), "%d duplicate call rows")
	add(int64(tl.dupRevs), "%d call revisions beyond one per distinct delivery")
	add(int64(tl.phantom), "%d stored calls never sent")
	add(int64(tl.fuMissing), "%d expected follow-ups not planned")
	add(int64(tl.fuUnexpected), "%d unexpected follow-up rows")
	add(int64(tl.fuUnsettled), "%d follow-ups not succeeded")
	add(int64(tl.deliveryMissing), "%d follow-ups never delivered")
	add(int64(tl.deliveryOther), "%d deliveries with an unexpected webhook-id")
	add(int64(tl.inboxPending), "%d callbacks waiting in the inbox")
	add(tl.openCalls, "%d call workflows still running")
	add(tl.openFollowUps, "%d follow-up workflows still running")
	add(tl.callRunsNotCompleted, "%d call workflows closed without completing")
	return p
}

// count takes the tally. An error means something could not be read (a store or Temporal still coming
// back): the caller polls again.
func (s *system) count(ctx context.Context, load []*callback, sent sendStats) (*tally, error) {
	tl := &tally{attempts: sent.attempts, answers: sent.answers, fuByStatus: map[string]int{}, byKind: map[string]*kindTally{}}
	acked := map[string]bool{}
	sentCalls := map[string]sentCall{}
	latest := map[string]string{} // call key → the callee name its acknowledged correction set
	for _, cb := range load {
		kt := tl.byKind[cb.kind]
		if kt == nil {
			kt = &kindTally{}
			tl.byKind[cb.kind] = kt
		}
		kt.sent++
		tl.bodies++
		for _, c := range cb.calls {
			sentCalls[c.key] = c
		}
		switch {
		case cb.acked:
			tl.bodiesAcked++
			kt.acked++
			kt.calls += len(cb.calls)
			for _, c := range cb.calls {
				acked[c.key] = true
				if cb.latestCallee != "" {
					latest[c.key] = cb.latestCallee
				}
			}
		case cb.refused != 0:
			tl.refused++
			kt.refused++
			if !cb.mayRefuse {
				tl.refusedWrongly++
			}
		}
	}
	tl.callsSent, tl.callsAcked, tl.revisions = len(sentCalls), len(acked), len(latest)

	var rows []struct {
		Key  string `db:"call_key"`
		Rows int    `db:"rows"`
	}
	calls, err := s.callsTable(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT call_key, count(*) AS rows FROM `+calls+` WHERE source = $1 GROUP BY call_key`, source); err != nil {
		return nil, fmt.Errorf("count calls: %w", err)
	}
	stored := map[string]bool{}
	for _, r := range rows {
		stored[r.Key] = true
		tl.dupRows += r.Rows - 1
		if _, ok := sentCalls[r.Key]; !ok {
			tl.phantom++
		} else if !acked[r.Key] {
			tl.storedUnack++
		}
	}
	tl.stored = len(stored)
	if err := s.countRevisions(ctx, tl, latest); err != nil {
		return nil, err
	}
	if err := s.countRevisionRows(ctx, tl, latest); err != nil {
		return nil, err
	}
	for _, cb := range load {
		if !cb.acked || cb.latestCallee != "" {
			continue
		}
		for _, c := range cb.calls {
			if !stored[c.key] {
				tl.byKind[cb.kind].lost++
			}
		}
	}
	expected := map[string]bool{}
	for key := range sentCalls {
		if acked[key] && !stored[key] {
			tl.lost++
		}
		if acked[key] || stored[key] {
			for _, id := range sentCalls[key].followUps {
				expected[id] = true
			}
		}
	}
	tl.fuExpected = len(expected)

	var fus []struct {
		Key    string `db:"idempotency_key"`
		Status string `db:"status"`
	}
	if err := s.db.SelectContext(ctx, &fus, `SELECT idempotency_key, status FROM follow_ups`); err != nil {
		return nil, fmt.Errorf("read follow-ups: %w", err)
	}
	planned := map[string]string{}
	for _, f := range fus {
		planned[f.Key] = f.Status
		tl.fuByStatus[f.Status]++
		if !expected[f.Key] {
			tl.fuUnexpected++
		}
	}
	deliveries, raw := s.sink.received()
	tl.raw = raw
	for id := range expected {
		status, ok := planned[id]
		switch {
		case !ok:
			tl.fuMissing++
		case status != "succeeded":
			tl.fuUnsettled++
		}
		if deliveries[id] > 0 {
			tl.delivered++
		} else {
			tl.deliveryMissing++
		}
	}
	for id, n := range deliveries {
		tl.repeats += n - 1
		if !expected[id] {
			tl.deliveryOther++
		}
	}

	if err := s.db.GetContext(ctx, &tl.fuAttempts, `SELECT coalesce(sum(attempts), 0) FROM follow_ups`); err != nil {
		return nil, fmt.Errorf("sum follow-up attempts: %w", err)
	}
	if tl.inboxPending, tl.inboxDead, err = s.countInbox(ctx); err != nil {
		return nil, err
	}
	// The inbox's rows are deleted once relayed, but its identity sequence counts every row ever written.
	if err := s.db.GetContext(ctx, &tl.inboxWritten, inboxWrittenSQL); err != nil {
		return nil, fmt.Errorf("read the inbox's id sequence: %w", err)
	}
	// A call's workflow is a SubjectWorkflow of a call's kind, or, in a binary from before it, a
	// CallCompletedWorkflow whose follow-ups ran as FollowUpWorkflow children.
	const callRuns = `(WorkflowType = 'CallCompletedWorkflow' OR (WorkflowType = 'SubjectWorkflow' AND Kind IN ('call_completed', 'info_check_completed')))`
	for _, q := range []struct {
		into  *int64
		query string
	}{
		{&tl.openCalls, callRuns + ` AND ExecutionStatus = 'Running'`},
		{&tl.openFollowUps, `WorkflowType = 'FollowUpWorkflow' AND ExecutionStatus = 'Running'`},
		{&tl.callRuns, callRuns},
		{&tl.callRunsNotCompleted, callRuns + ` AND ExecutionStatus != 'Running' AND ExecutionStatus != 'Completed'`},
	} {
		resp, err := s.client.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: q.query})
		if err != nil {
			return nil, fmt.Errorf("count workflows (%s): %w", q.query, err)
		}
		*q.into = resp.GetCount()
	}
	return tl, nil
}

// countRevisions checks that every acknowledged correction is what its call shows now.
func (s *system) countRevisions(ctx context.Context, tl *tally, latest map[string]string) error {
	if len(latest) == 0 {
		return nil
	}
	var rows []struct {
		Key    string `db:"call_key"`
		Callee string `db:"callee_name"`
	}
	calls, err := s.callsTable(ctx)
	if err != nil {
		return err
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT call_key, callee_name FROM `+calls+` WHERE source = $1 AND call_key = ANY($2)`,
		source, pq.Array(slices.Collect(maps.Keys(latest)))); err != nil {
		return fmt.Errorf("read corrected calls: %w", err)
	}
	shown := map[string]string{}
	for _, r := range rows {
		shown[r.Key] = r.Callee
	}
	for key, callee := range latest {
		if shown[key] != callee {
			tl.revisionsLost++
		}
	}
	tl.byKind[kindCorrection].lost = tl.revisionsLost
	return nil
}

// countRevisionRows counts stored revisions beyond what was delivered, when the schema keeps every
// distinct delivery of a call (call_revisions, then subject_revisions): one per call, two for a
// corrected one. Retries and identical redeliveries must not add any.
func (s *system) countRevisionRows(ctx context.Context, tl *tally, latest map[string]string) error {
	var kept string
	if err := s.db.GetContext(ctx, &kept, `SELECT CASE WHEN to_regclass('subject_revisions') IS NOT NULL THEN 'subjects'
  WHEN to_regclass('call_revisions') IS NOT NULL THEN 'calls' ELSE '' END`); err != nil || kept == "" {
		return err
	}
	revisions := map[string]string{
		"calls": "call_revisions",
		"subjects": `(SELECT s.source, s.subject_key AS call_key FROM subject_revisions r JOIN subjects s ON s.id = r.subject_id
  JOIN calls c ON c.subject_id = s.id) revisions`,
	}[kept]
	var rows []struct {
		Key  string `db:"call_key"`
		Rows int    `db:"rows"`
	}
	if err := s.db.SelectContext(ctx, &rows, `SELECT call_key, count(*) AS rows FROM `+revisions+` WHERE source = $1 GROUP BY call_key`, source); err != nil {
		return fmt.Errorf("count call revisions: %w", err)
	}
	for _, r := range rows {
		want := 1
		if _, corrected := latest[r.Key]; corrected {
			want = 2
		}
		tl.dupRevs += max(0, r.Rows-want)
	}
	return nil
}

// callsTable is what the checks read as the calls table (source, call_key, callee_name): calls itself,
// or, where calls extend subjects (00010 on), calls with their subjects' identity.
func (s *system) callsTable(ctx context.Context) (string, error) {
	var subjects bool
	if err := s.db.GetContext(ctx, &subjects, `SELECT to_regclass('subjects') IS NOT NULL`); err != nil {
		return "", fmt.Errorf("read the schema: %w", err)
	}
	if !subjects {
		return "calls", nil
	}
	return `(SELECT s.source, s.subject_key AS call_key, c.callee_name FROM calls c JOIN subjects s ON s.id = c.subject_id) calls`, nil
}

const inboxWrittenSQL = `SELECT coalesce(last_value, 0) FROM pg_sequences
WHERE schemaname = current_schema() AND sequencename = (SELECT split_part(pg_get_serial_sequence('inbox', 'id'), '.', 2))`

// countInbox counts the inbox's entries, telling dead-lettered ones apart when the schema has them: a
// state column that says 'dead', or a column whose name says "dead" (dead_at) that is set.
func (s *system) countInbox(ctx context.Context) (pending, dead int, err error) {
	var columns []string
	if err := s.db.SelectContext(ctx, &columns, `SELECT column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = 'inbox' AND (column_name = 'state' OR column_name LIKE '%dead%')`); err != nil {
		return 0, 0, fmt.Errorf("inbox columns: %w", err)
	}
	conds := []string{"false"}
	for _, c := range columns {
		col := pq.QuoteIdentifier(c)
		if c == "state" {
			conds = append(conds, col+" = 'dead'")
		} else {
			conds = append(conds, fmt.Sprintf("(%s IS NOT NULL AND %s::text NOT IN ('false', ''))", col, col))
		}
	}
	var counts struct {
		Pending int `db:"pending"`
		Dead    int `db:"dead"`
	}
	q := fmt.Sprintf(`SELECT count(*) FILTER (WHERE NOT (%[1]s)) AS pending, count(*) FILTER (WHERE %[1]s) AS dead FROM inbox`,
		strings.Join(conds, " OR "))
	if err := s.db.GetContext(ctx, &counts, q); err != nil {
		return 0, 0, fmt.Errorf("count inbox: %w", err)
	}
	return counts.Pending, counts.Dead, nil
}

// answersLine is the sender's answers by status, e.g. "200×312, 503×4, conn/timeout×9".
func answersLine(answers map[int]int) string {
	var parts []string
	for _, status := range slices.Sorted(maps.Keys(answers)) {
		name := fmt.Sprint(status)
		if status == 0 {
			name = "conn/timeout"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, answers[status]))
	}
	return strings.Join(parts, ", ")
}

// statusLine is a count by status, e.g. "succeeded 450, running 2".
func statusLine(by map[string]int) string {
	var parts []string
	for _, st := range slices.Sorted(maps.Keys(by)) {
		parts = append(parts, fmt.Sprintf("%s %d", st, by[st]))
	}
	return strings.Join(parts, ", ")
}
