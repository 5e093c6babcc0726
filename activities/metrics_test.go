package activities_test

import (
	"context"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rudderhook/rudderhook/activities"
	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// rudderhook_follow_ups says how many follow-ups wait, by status, as the database has them: an operator
// alerts when the needs_review ones grow.
func TestFollowUpsWaitingAreCounted(t *testing.T) {
	ctx := context.Background()
	st := store.New(storetest.DB(t))
	rc := airudder.ExampleCalls("airudder", time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC))[0]
	wf := "call/airudder/" + rc.Key
	stored, err := st.StoreRevision(ctx, airudder.CallSubject(rc), wf, true)
	if err != nil {
		t.Fatal(err)
	}
	rs, _, err := st.SaveRuleSet(ctx, "d", "rules: []", store.RuleSetChange{Origin: "api"})
	if err != nil {
		t.Fatal(err)
	}
	var recs []store.FollowUpRecord
	for _, action := range []string{"a", "b", "c", "d"} {
		recs = append(recs, store.FollowUpRecord{
			Key: rules.FollowUpKey(wf, "r", action), WorkflowID: wf, RuleID: "r", RuleVersion: rs.Version, Action: action,
			Type: rules.TypeWebhook, CalleeNumber: "+62811", Status: rules.StatusScheduled,
			Plan: rules.FollowUp{Action: action, Type: rules.TypeWebhook},
		})
	}
	if _, err := st.InsertFollowUps(ctx, stored.SubjectID, recs); err != nil {
		t.Fatal(err)
	}
	for key, status := range map[string]rules.Status{recs[1].Key: rules.StatusNeedsReview, recs[2].Key: rules.StatusNeedsReview, recs[3].Key: rules.StatusSucceeded} {
		if err := st.UpdateFollowUp(ctx, key, store.FollowUpUpdate{Status: status, Finished: true}); err != nil {
			t.Fatal(err)
		}
	}

	countCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		activities.CountFollowUps(countCtx, st, time.Hour, slog.New(slog.DiscardHandler))
		close(done)
	}()
	want := map[string]float64{"scheduled": 1, "running": 0, "needs_review": 2, "overdue": 0}
	var got map[string]float64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = gauge(t, "rudderhook_follow_ups"); maps.Equal(got, want) {
			break
		}
	}
	stop()
	<-done
	if !maps.Equal(got, want) {
		t.Errorf("rudderhook_follow_ups = %v, want %v", got, want)
	}
}

// gauge reads a gauge vector of the default registry by its status label.
func gauge(t *testing.T, name string) map[string]float64 {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			out[label(m, "status")] = m.GetGauge().GetValue()
		}
	}
	return out
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
