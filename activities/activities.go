// Package activities holds every step of rudderhook's workflows that touches the world: PostgreSQL,
// outbound HTTP, Airudder's API. Activities are methods on Activities, which holds their dependencies;
// the worker registers one value of it and workflows refer to its methods through a nil *Activities.
//
// Every activity is idempotent: Temporal may run it more than once, and a second run must leave the world
// as the first did.
package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lib/pq"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/egress"
	"github.com/rudderhook/rudderhook/rules/rulesync"
	"github.com/rudderhook/rudderhook/store"
)

// Activities are the I/O steps of the workflows.
type Activities struct {
	Store *store.Store
	// Rules are the follow-up rules in force, compiled once per version.
	Rules *rulesync.InForce
	Log   *slog.Logger
	// HTTP calls Airudder's API, whose base URL the operator configured; the Airudder client bounds each
	// of its exchanges (airudder.DefaultRequestTimeout).
	// Webhooks and notifications go through clients of their own (outbound).
	HTTP *http.Client
	// RuleURLs is what a url: written in a rule may reach: public addresses (and loopback when the
	// configuration allows it); a target may also reach private networks when it says allow_private.
	RuleURLs egress.Policy
	// Airudder re-calls callees and cancels their calls; nil or unconfigured makes those follow-ups fail
	// visibly.
	Airudder *airudder.Client
	// AirudderZone is the Airudder account's zone, in which times sent to Airudder are written; nil
	// means the rules' time_zone.
	AirudderZone *time.Location
	// Targets are the endpoints rules may name.
	Targets map[string]*config.Target
	// Recordings is the bucket archive_recording puts recordings in; nil: not configured, and those
	// follow-ups fail saying so.
	Recordings *Recordings
	// ArchiveSources are the sources whose every call with a recording gets an archive_recording follow-up
	// (a source's archive_recordings), as if a rule said so.
	ArchiveSources map[string]bool
	// Retrier retries follow-ups for a bulk repair (RepairBatch), as the admin API retries one; nil makes
	// a bulk retry fail visibly.
	Retrier FollowUpRetrier
	// Clock is the time follow-ups are planned and attempted by (their dates, calling windows, daily caps
	// and retries); nil is time.Now. Workflow tests give their environment's clock.
	Clock func() time.Time
	// Sources are the configured sources: how reconciliation reads a source's records.
	Sources map[string]*config.Source
	// Starter hands backfilled calls and rudderhook's own events to their workflows as the receiver does
	// (cmd gives ingest's); nil: reconciliation and the expectations' sweep fail visibly.
	Starter SubjectStarter
	// ReconcileBackoff is the first wait after Airudder throttled a reconciliation query, doubling with
	// each attempt up to 10 minutes; 0 means 30 seconds.
	ReconcileBackoff time.Duration

	outboundMu sync.Mutex
	// outbound are the clients that send webhooks and notifications, one per policy, each refusing at
	// dial time what its policy does not allow (newOutboundClient).
	outbound map[egress.Policy]*http.Client
	// downloads fetches recordings (downloadClient).
	downloads *http.Client
}

// New builds the activities from the configuration: its targets, Airudder's API credentials and the
// sources that archive every recording. The recordings bucket is opened by the caller (OpenRecordings).
func New(st *store.Store, cfg *config.Config, log *slog.Logger) *Activities {
	httpClient := NewHTTPClient()
	return &Activities{
		Store: st,
		Rules: rulesync.New(st),
		Log:   log,
		HTTP:  httpClient,
		Airudder: airudder.NewClient(cfg.Airudder.BaseURL, cfg.Airudder.AppKey, cfg.Airudder.AppSecret, httpClient,
			cfg.Airudder.ClientOptions()...),
		AirudderZone:   cfg.Airudder.Location,
		Targets:        cfg.Targets,
		Sources:        cfg.Sources,
		RuleURLs:       cfg.RuleURLs(),
		ArchiveSources: cfg.ArchiveSources(),
	}
}

// now is the time by Clock.
func (a *Activities) now() time.Time {
	if a.Clock != nil {
		return a.Clock()
	}
	return time.Now()
}

// Error types that workflows and operators see on a failed activity.
const (
	ErrTypeInvalidData = "InvalidCallData"
)

// PersistCallInput is what PersistCall stores.
type PersistCallInput struct {
	Call airudder.ReceivedCall `json:"call"`
	// Slim says the receiver stored the (large) call already and Call is a slim copy. (JSON name kept from
	// when it was called Stored, for executions started before the rename.)
	Slim bool `json:"stored,omitempty"`
}

// PersistResult says which revision of the call PersistCall stored.
type PersistResult struct {
	// Revision is the revision's number (0 for a slim call stored before revisions existed).
	Revision int `json:"revision"`
	// New is false when the same delivery had been stored before (a redelivery, or a retried activity).
	New bool `json:"new"`
	// Latest is true when the call's row shows this revision.
	Latest bool `json:"latest"`
}

// PersistCall stores the call as a revision (see store.StoreRevision): its row, redials and raw JSON in
// PostgreSQL, as the subject of the workflow that runs it, and marks the revision processed. A slim call
// was stored by the receiver; it is only marked.
func (a *Activities) PersistCall(ctx context.Context, in PersistCallInput) (*PersistResult, error) {
	info := activity.GetInfo(ctx)
	workflowID := info.WorkflowExecution.ID
	var stored store.Stored
	var err error
	switch {
	case in.Slim && in.Call.Digest == "":
		_, err = a.Store.SubjectByWorkflowID(ctx, workflowID) // stored before revisions existed
	case in.Slim:
		stored, err = a.Store.MarkProcessed(ctx, workflowID, in.Call.Digest)
	default:
		stored, err = a.Store.StoreRevision(ctx, airudder.CallSubject(in.Call), workflowID, true)
	}
	if err != nil {
		return nil, classifyDBError(fmt.Errorf("persist call %s/%s: %w", in.Call.Source, in.Call.Key, err))
	}
	a.Log.Info("stored call", "workflow_id", workflowID, "call_key", in.Call.Key,
		"callee_number", airudder.MaskPhone(in.Call.Call.CalleeNumber), "revision", stored.Revision, "new", stored.New,
		"attempt", info.Attempt)
	return &PersistResult{Revision: stored.Revision, New: stored.New, Latest: stored.Latest}, nil
}

// classifyDBError marks errors that no retry can fix (the data itself does not fit) as non-retryable, so
// the workflow fails visibly instead of retrying for ever; everything else (connection lost, database
// restarting, lock timeouts) is retried by Temporal.
func classifyDBError(err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code.Class() {
		case "22", "23": // data exception, integrity constraint violation
			return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidData, err)
		}
	}
	return err
}
