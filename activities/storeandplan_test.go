package activities_test

import (
	"context"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// These tests hold StoreAndPlan, a subject's workflow's first step: it stores a delivery as a revision
// and plans the follow-ups of the revision the subject shows.

// putRules puts doc in force.
func (f *fixture) putRules(doc string) {
	f.t.Helper()
	if _, _, _, err := f.acts.Rules.Save(context.Background(), []byte(doc), store.RuleSetChange{Origin: "test"},
		rules.Options{URLs: egress.Policy{AllowLoopback: true}}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) storeAndPlan(s airudder.Subject, slim bool) *activities.StoreAndPlanResult {
	f.t.Helper()
	v, err := f.env.ExecuteActivity(f.acts.StoreAndPlan, activities.StoreAndPlanInput{Subject: s, Slim: slim})
	if err != nil {
		f.t.Fatal(err)
	}
	var out activities.StoreAndPlanResult
	if err := v.Get(&out); err != nil {
		f.t.Fatal(err)
	}
	return &out
}

// followUps are the follow-ups stored for the subject of the test's workflow.
func (f *fixture) followUps(subjectID int64) []store.FollowUpRecord {
	f.t.Helper()
	fus, err := f.st.FollowUpsOf(context.Background(), subjectID)
	if err != nil {
		f.t.Fatal(err)
	}
	return fus
}

const ptpRule = `rules:
  - id: ptp
    when: call.intention == "PTP"
    actions: [{name: thanks, type: webhook, url: "https://crm.example/thanks"}]
`

// pdsCall is a PDS agent's call result that happened at happened with the given intention: PDS results
// arrive out of order, and the one that happened last is the call's.
func pdsCall(happened time.Time, intention string) airudder.Subject {
	rc := call("pds-1")
	rc.Kind, rc.Key, rc.EventTime = airudder.KindPDS, "pds/pds-1", &happened
	rc.Call.Intention = intention
	rc.Digest = intention + happened.Format(time.RFC3339)
	return airudder.CallSubject(rc)
}

// Only the revision the subject shows is planned: an older result that arrives after a newer one is
// stored as a revision and decides nothing, though the rules would match it; a newer one is planned.
func TestStoreAndPlanPlansOnlyTheRevisionShown(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.putRules(ptpRule)
	at := monday10.Add(-time.Hour)

	newer := f.storeAndPlan(pdsCall(at, "E"), false)
	if !newer.New || !newer.Latest || !newer.Planned || newer.Revision != 1 || newer.RuleVersion != 1 || len(newer.FollowUps) != 0 {
		t.Fatalf("newer = %+v, want revision 1 shown and planned (no rule matches E)", newer)
	}
	older := f.storeAndPlan(pdsCall(at.Add(-time.Minute), "PTP"), false)
	if !older.New || older.Latest || older.Planned || older.Revision != 2 || len(older.FollowUps) != 0 {
		t.Errorf("older = %+v, want revision 2 stored, not shown, not planned", older)
	}
	if fus := f.followUps(newer.SubjectID); len(fus) != 0 {
		t.Errorf("the older revision planned %+v", fus)
	}
	latest := f.storeAndPlan(pdsCall(at.Add(time.Minute), "PTP"), false)
	if !latest.Latest || !latest.Planned || latest.Revision != 3 || len(latest.FollowUps) != 1 || latest.FollowUps[0].Plan.RuleID != "ptp" {
		t.Errorf("latest = %+v, want revision 3 shown and its PTP planned", latest)
	}
	if fus := f.followUps(newer.SubjectID); len(fus) != 1 {
		t.Errorf("%d follow-ups stored, want the latest revision's one", len(fus))
	}
}

// Run twice on the same delivery (a retried activity, a redelivery), StoreAndPlan stores one revision,
// plans one follow-up, and returns the follow-up as it stands.
func TestStoreAndPlanTwiceStoresAndPlansOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.putRules(ptpRule)
	rc := call("twice")
	rc.Call.Intention = "PTP"
	first := f.storeAndPlan(airudder.CallSubject(rc), false)
	if err := f.st.UpdateFollowUp(context.Background(), first.FollowUps[0].Plan.Key, store.FollowUpUpdate{Status: rules.StatusSucceeded, Finished: true}); err != nil {
		t.Fatal(err)
	}
	again := f.storeAndPlan(airudder.CallSubject(rc), false)
	if !first.New || again.New || again.Revision != 1 || !again.Latest || again.SubjectID != first.SubjectID {
		t.Errorf("first %+v, again %+v; want the same revision, not new", first, again)
	}
	if len(again.FollowUps) != 1 || again.FollowUps[0].ID != first.FollowUps[0].ID || again.FollowUps[0].Status != rules.StatusSucceeded {
		t.Errorf("again planned %+v, want the first plan's follow-up as it stands (succeeded)", again.FollowUps)
	}
	revs, err := f.st.Revisions(context.Background(), first.SubjectID)
	if err != nil || len(revs) != 1 || len(f.followUps(first.SubjectID)) != 1 {
		t.Errorf("%d revisions (%v), %d follow-ups; want one of each", len(revs), err, len(f.followUps(first.SubjectID)))
	}
}

// A slim input names a large subject the receiver stored whole: StoreAndPlan marks that revision
// processed and plans on the whole subject, which has what the slim copy lacks.
func TestStoreAndPlanOfASlimInputReadsTheWholeSubject(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.putRules(`rules:
  - id: by-name
    when: call.callee_name == "WILL SMITH"
    actions: [{name: greet, type: webhook, url: "https://crm.example/greet"}]
`)
	whole := airudder.CallSubject(call("large"))
	if whole.Call.Call.CalleeName != "WILL SMITH" || whole.Slim().Call.Call.CalleeName != "" {
		t.Fatalf("the example's callee name %q (slim %q): the test needs one that only the whole call has",
			whole.Call.Call.CalleeName, whole.Slim().Call.Call.CalleeName)
	}
	if _, err := f.st.StoreRevision(context.Background(), whole, testWorkflowID, false); err != nil { // as the receiver does
		t.Fatal(err)
	}
	out := f.storeAndPlan(whole.Slim(), true)
	if out.New || !out.Latest || !out.Planned || len(out.FollowUps) != 1 || out.FollowUps[0].Plan.RuleID != "by-name" {
		t.Errorf("StoreAndPlan(slim) = %+v, want the stored revision planned from the whole call", out)
	}
	revs, err := f.st.Revisions(context.Background(), out.SubjectID)
	if err != nil || len(revs) != 1 || revs[0].ProcessedAt == nil {
		t.Errorf("revisions %+v (%v), want the one stored, now processed", revs, err)
	}
}
