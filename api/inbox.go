package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/store"
)

// InboxEntryJSON is an inbox entry as the admin API shows it. The body (personal data) is not shown,
// only its size.
type InboxEntryJSON struct {
	ID            int64      `json:"id"`
	Source        string     `json:"source"`
	Kind          string     `json:"kind"`
	State         string     `json:"state"`
	ReceivedAt    time.Time  `json:"received_at"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastError     string     `json:"last_error"`
	DeadAt        *time.Time `json:"dead_at,omitempty"`
	// ReplayedAt is when the entry was last replayed; its age counts from then.
	ReplayedAt *time.Time `json:"replayed_at,omitempty"`
	BodyBytes  int        `json:"body_bytes"`
}

func inboxEntryJSON(e *store.InboxEntry) InboxEntryJSON {
	out := InboxEntryJSON{ID: e.ID, Source: e.Source, Kind: e.Kind, State: e.State, ReceivedAt: e.ReceivedAt.UTC(),
		Attempts: e.Attempts, LastError: e.LastError, DeadAt: e.DeadAt, ReplayedAt: e.ReplayedAt, BodyBytes: e.BodyBytes}
	if e.State == store.InboxPending {
		next := e.NextAttemptAt.UTC()
		out.NextAttemptAt = &next
	}
	return out
}

// listInbox is GET /v1/inbox?state=pending|dead&source=&limit=&cursor=, newest first.
func (s *Server) listInbox(c *gin.Context) {
	f := store.InboxFilter{State: c.Query("state"), Source: c.Query("source")}
	if f.State != "" && f.State != store.InboxPending && f.State != store.InboxDead {
		s.writeError(c, newError(http.StatusBadRequest, "invalid_parameter", "state must be pending or dead"))
		return
	}
	writeList(s, c, "entries", func(limit int, before int64) ([]store.InboxEntry, int64, error) {
		f.Limit, f.Before = limit, before
		return s.Store.ListInbox(c.Request.Context(), f)
	}, inboxEntryJSON)
}

// replayInbox is POST /v1/inbox/{id}/replay: a dead letter is due again at once, its attempts and its age
// counted anew (received_at stays when it arrived; replayed_at says when it was replayed). 409 not_dead
// for an entry that is still pending.
func (s *Server) replayInbox(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		s.writeError(c, newError(http.StatusBadRequest, "invalid_parameter", "the inbox entry ID is a number"))
		return
	}
	e, err := s.Store.ReplayInbox(c.Request.Context(), id)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.Log.Info("inbox entry replayed", "inbox_id", id, "source", e.Source)
	c.JSON(http.StatusOK, inboxEntryJSON(e))
}

// inboxStatus is GET /v1/inbox/status: the callbacks waiting for Temporal, the dead letters, and when the
// oldest waiting one arrived and how long ago.
func (s *Server) inboxStatus(c *gin.Context) {
	st, err := s.Store.InboxStatus(c.Request.Context())
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"pending": st.Pending, "dead": st.Dead, "oldest_pending_at": st.OldestPending,
		"oldest_pending_age_seconds": st.OldestAge(time.Now()).Seconds()})
}
