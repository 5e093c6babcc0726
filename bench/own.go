package bench

// What the bench owns, so that pointing it at a production PostgreSQL or Temporal harms nothing there: a
// database it makes and drops (no other), a task queue of its own for rudderhook's processes and its
// ceilings, and a refusal to run beside a deployment's workers unless forced.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/workflows"
)

// DatabasePrefix begins the name of every database the bench makes, followed by 16 random hex digits.
// It drops no database whose name is not of that form.
const DatabasePrefix = "rudderhook_bench_"

var ownedDatabase = regexp.MustCompile(`^` + DatabasePrefix + `[0-9a-f]{16}$`)

// OwnsDatabase reports whether name is of the form of the databases the bench makes.
func OwnsDatabase(name string) bool { return ownedDatabase.MatchString(name) }

// ownDatabase makes a new, migrated database of the bench's own on the server of serverURL, whose own
// database it never touches, and returns it, its URL, and a function that closes and drops it.
func ownDatabase(ctx context.Context, serverURL string, log func(string, ...any)) (*sqlx.DB, string, func(), error) {
	u, err := url.Parse(serverURL)
	if err != nil || u.Scheme == "" {
		return nil, "", nil, fmt.Errorf("--database-url must be a postgres:// URL, got %q", store.Redact(serverURL))
	}
	u.Path = "/" + DatabasePrefix + randomHex(8)
	dsn := u.String()
	if err := store.CreateNewDatabase(ctx, dsn); err != nil {
		return nil, "", nil, err
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := dropOwnDatabase(ctx, dsn); err != nil {
			log("could not drop the bench's database: drop it by hand", "url", store.Redact(dsn), "error", err)
		}
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	if err := store.Migrate(ctx, db, quietLogger()); err != nil {
		_ = db.Close()
		drop()
		return nil, "", nil, err
	}
	log("database ready (dropped when the bench ends)", "url", store.Redact(dsn))
	return db, dsn, func() { _ = db.Close(); drop() }, nil
}

// dropOwnDatabase drops the database of dsn when its name is one the bench makes, and refuses any other.
func dropOwnDatabase(ctx context.Context, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	if name := strings.TrimPrefix(u.Path, "/"); !OwnsDatabase(name) {
		return fmt.Errorf("the bench drops only the databases it made (%s and 16 hex digits), not %q", DatabasePrefix, name)
	}
	return store.DropDatabase(ctx, dsn)
}

// ownTaskQueue is a task queue for one run: rudderhook's serve and worker run on it (TEMPORAL_TASK_QUEUE),
// and the ceilings on queues named after it, so that no worker of the bench takes a deployment's tasks
// and no deployment's worker takes the bench's.
func ownTaskQueue() string { return workflows.TaskQueue + "-bench-" + randomHex(4) }

// ErrProductionQueuePolled is why the bench does not run against a Temporal where workers poll the
// production task queue, unless forced.
var ErrProductionQueuePolled = errors.New("workers poll the production task queue")

// checkProductionQueues refuses, unless force, a namespace where workers poll one of the production task
// queues (rudderhook's, and the one TEMPORAL_TASK_QUEUE names): a deployment works there, and the bench
// would load the cluster and namespace it depends on.
func checkProductionQueues(ctx context.Context, c client.Client, namespace string, queues []string, force bool, log *slog.Logger) error {
	for _, q := range slices.Compact(slices.Sorted(slices.Values(queues))) {
		for _, typ := range []enums.TaskQueueType{enums.TASK_QUEUE_TYPE_WORKFLOW, enums.TASK_QUEUE_TYPE_ACTIVITY} {
			resp, err := c.DescribeTaskQueue(ctx, q, typ)
			if err != nil {
				return fmt.Errorf("look for workers on task queue %s of namespace %s: %w", q, namespace, err)
			}
			pollers := resp.GetPollers()
			if len(pollers) == 0 {
				continue
			}
			if force {
				log.Warn("workers poll the production task queue; running anyway (--force), on a task queue of the bench's own",
					"namespace", namespace, "task_queue", q, "pollers", len(pollers), "identity", pollers[0].GetIdentity())
				return nil
			}
			return fmt.Errorf("%w: %d worker(s) poll task queue %q of namespace %q (%s, within the last minutes): a deployment works there. "+
				"Point --temporal and --namespace at a Temporal of the bench's own, or give --force to run beside it (on a task queue of the bench's own)",
				ErrProductionQueuePolled, len(pollers), q, namespace, pollers[0].GetIdentity())
		}
	}
	return nil
}
