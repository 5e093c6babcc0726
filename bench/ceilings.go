package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jmoiron/sqlx"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/worker"
)

// plainReceiver is the receiver a team would write without Temporal: verify the Sign, insert each call
// into PostgreSQL, answer {}. Its rate is the ceiling that inbox-first acknowledgement is measured
// against: the same HTTP, JSON and commit work, nothing else.
type plainReceiver struct {
	db  *sqlx.DB
	key string
	srv *http.Server
	url string
}

const (
	createPlainSQL = `CREATE TABLE IF NOT EXISTS bench_plain_calls (call_id text PRIMARY KEY, detail jsonb NOT NULL)`
	insertPlainSQL = `INSERT INTO bench_plain_calls (call_id, detail) VALUES ($1, $2) ON CONFLICT DO NOTHING`
)

func startPlainReceiver(ctx context.Context, db *sqlx.DB, key string) (*plainReceiver, error) {
	return listenPlainReceiver(ctx, db, key, "127.0.0.1:0")
}

// ServePlain runs the plain receiver alone at addr (POST /webhooks/plain/call-completed, Sign key key)
// until ctx ends, on a database of its own on the server of serverURL (dropped when it ends): the
// ceiling, for a load generator (Load) to compare with any running rudderhook, dev included.
func ServePlain(ctx context.Context, serverURL, addr, key string, log *slog.Logger) error {
	db, _, drop, err := ownDatabase(ctx, serverURL, func(msg string, args ...any) { log.Info(msg, args...) })
	if err != nil {
		return err
	}
	defer drop()
	p, err := listenPlainReceiver(ctx, db, key, addr)
	if err != nil {
		return err
	}
	defer p.close()
	log.Info("plain receiver listening; Ctrl-C stops it", "url", p.url)
	<-ctx.Done()
	return nil
}

func listenPlainReceiver(ctx context.Context, db *sqlx.DB, key, addr string) (*plainReceiver, error) {
	if _, err := db.ExecContext(ctx, createPlainSQL); err != nil {
		return nil, fmt.Errorf("plain receiver table: %w", err)
	}
	p := &plainReceiver{db: db, key: key}
	r := gin.New()
	r.POST("/webhooks/plain/call-completed", p.receive)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("plain receiver: %w", err)
	}
	p.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	p.url = "http://" + ln.Addr().String() + "/webhooks/plain/call-completed"
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *plainReceiver) receive(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, 2<<20))
	if err != nil {
		c.AbortWithStatus(http.StatusBadRequest)
		return
	}
	var cb struct {
		TaskID  string            `json:"TaskID"`
		Sign    string            `json:"Sign"`
		Details []json.RawMessage `json:"Details"`
	}
	if err := json.Unmarshal(body, &cb); err != nil {
		c.AbortWithStatus(http.StatusBadRequest)
		return
	}
	if airudder.VerifySign(cb.TaskID, cb.Sign, []string{p.key}) != nil {
		c.AbortWithStatus(http.StatusUnauthorized)
		return
	}
	for _, d := range cb.Details {
		var id struct {
			CallID string `json:"CallID"`
		}
		_ = json.Unmarshal(d, &id)
		if _, err := p.db.ExecContext(c.Request.Context(), insertPlainSQL, id.CallID, string(d)); err != nil {
			c.AbortWithStatus(http.StatusServiceUnavailable)
			return
		}
	}
	c.Data(http.StatusOK, "application/json", []byte("{}"))
}

func (p *plainReceiver) close() { _ = p.srv.Close() }

// emptyWorkflow does nothing: its rate is what Temporal completes per second for one workflow task.
func emptyWorkflow(workflow.Context) error { return nil }

const emptyWorkflowName = "BenchEmptyWorkflow"

// emptyWorkflowID is the ID of the i-th empty workflow of a run's ceilings.
func emptyWorkflowID(prefix string, i int) string { return fmt.Sprintf("bench/empty/%s-%d", prefix, i) }

// bareStarts measures StartWorkflow alone: a type no worker runs, on a queue no worker polls (the run's
// queue, suffixed).
func bareStarts(ctx context.Context, c client.Client, queue, prefix string, n, concurrency int) (Rate, error) {
	return run(ctx, n, concurrency, func(ctx context.Context, i int) error {
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: fmt.Sprintf("bench/bare/%s-%d", prefix, i), TaskQueue: queue + "-nobody",
			// They are never run: they time out and go, after the bench (their timeouts firing during the
			// later measurements would load the server that those measure).
			WorkflowExecutionTimeout: time.Hour,
		}, "BenchNeverRuns")
		return err
	})
}

// emptyWorkflows measures start to completion of an empty workflow, run by a worker in this process on a
// queue of its own (the run's queue, suffixed), so that rudderhook's worker never sees these workflows.
func emptyWorkflows(ctx context.Context, c client.Client, queue, prefix string, n, concurrency int) (Rate, error) {
	queue += "-empty"
	w := sdkworker.New(c, queue, worker.Polling(sdkworker.Options{})) // as rudderhook's worker polls
	w.RegisterWorkflowWithOptions(emptyWorkflow, workflow.RegisterOptions{Name: emptyWorkflowName})
	if err := w.Start(); err != nil {
		return Rate{}, fmt.Errorf("start the empty-workflow worker: %w", err)
	}
	defer w.Stop()
	return run(ctx, n, concurrency, func(ctx context.Context, i int) error {
		wr, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: emptyWorkflowID(prefix, i), TaskQueue: queue,
		}, emptyWorkflowName)
		if err != nil {
			return err
		}
		return wr.Get(ctx, nil)
	})
}
