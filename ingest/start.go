package ingest

import (
	"context"

	"github.com/rudderhook/rudderhook/airudder"
)

// StartSubjects hands subjects that did not come as callbacks (calls reconciliation backfilled from
// Airudder's API, events rudderhook makes itself) to their workflows exactly as a callback's are handed:
// the same workflow IDs, the same signal-with-start, a delivery its workflow processed already skipped,
// a large subject stored first. So a late callback and a backfill of the same call are one workflow, and
// a repeated backfill is no new revision. It is what activities.SubjectStarter asks for: the worker's
// activities get it from cmd.
func (s *Service) StartSubjects(ctx context.Context, subjects []airudder.Subject) error {
	return s.startAll(ctx, subjects)
}
