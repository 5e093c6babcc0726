package bench

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/workflows"
)

// Options say what to measure and against what.
type Options struct {
	// Binary is the rudderhook binary that runs serve and worker (default: this executable).
	Binary string
	// DatabaseURL is the PostgreSQL server (and credentials) on which the bench makes a database of its own
	// (DatabasePrefix and a random suffix), dropped when it ends; the database the URL names is not touched.
	DatabaseURL string
	// TemporalAddress is the Temporal frontend to use; empty means StartTemporal.
	TemporalAddress string
	Namespace       string
	// ProductionTaskQueue is the deployment's task queue (TEMPORAL_TASK_QUEUE; empty: workflows.TaskQueue).
	// The bench runs on a task queue of its own, and refuses a namespace where workers poll this one or
	// workflows.TaskQueue unless Force.
	ProductionTaskQueue string
	Force               bool
	// StartTemporal starts an embedded Temporal server (dev's) and returns its frontend address. The
	// caller provides it, so that this package does not link the server.
	StartTemporal func(ctx context.Context) (addr string, stop func(), err error)
	// N is how many callbacks (or workflows) each measurement sends; Concurrency how many at once.
	N           int
	Concurrency int
	// Modes are the acknowledgement modes to measure (inbox, temporal).
	Modes []string
	Log   *slog.Logger
}

// Report is one run's figures.
type Report struct {
	Date    time.Time `json:"date"`
	Machine string    `json:"machine"`
	// LoadAverage is /proc/loadavg when the run began: other work on the machine shares its cores.
	LoadAverage string       `json:"load_average"`
	N           int          `json:"n"`
	Concurrency int          `json:"concurrency"`
	Temporal    string       `json:"temporal"`
	Ceilings    Ceilings     `json:"ceilings"`
	Modes       []ModeResult `json:"modes"`
	// Costs are what a call costs in Temporal by the shape of its follow-ups, read from the histories of
	// calls sent one at a time after the modes.
	Costs []ShapeCost `json:"cost_per_call"`
}

// Ceilings are what the parts under rudderhook manage alone on this machine.
type Ceilings struct {
	// PlainReceiver verifies the Sign, inserts each call into PostgreSQL and answers {}.
	PlainReceiver Rate `json:"plain_receiver"`
	// BareStart is StartWorkflow of a workflow no worker runs.
	BareStart Rate `json:"bare_start"`
	// EmptyWorkflow is start to completion of a workflow that does nothing.
	EmptyWorkflow Rate `json:"empty_workflow"`
}

// ModeResult is rudderhook measured in one acknowledgement mode.
type ModeResult struct {
	Mode string `json:"mode"`
	// Acks is the acknowledgement rate at full load; AcksAtHalf the latencies at half that rate.
	Acks       Rate `json:"acks"`
	AcksAtHalf Rate `json:"acks_at_half_rate"`
	// CeilingBefore is the ceiling the acks are compared with (the plain receiver for inbox, bare starts
	// for temporal), measured again just before them; the ratio uses it.
	CeilingBefore Rate `json:"ceiling_before"`
	// AckToStart is how long after the acknowledgement the call's workflow started, at full load (a
	// backlog drains at Temporal's rate) and at normal load (NormalPerSec, half the rate calls were
	// stored end to end).
	AckToStartP50       time.Duration `json:"ack_to_start_p50_ns"`
	AckToStartP99       time.Duration `json:"ack_to_start_p99_ns"`
	NormalPerSec        float64       `json:"normal_load_per_second"`
	NormalAckToStartP50 time.Duration `json:"normal_load_ack_to_start_p50_ns"`
	NormalAckToStartP99 time.Duration `json:"normal_load_ack_to_start_p99_ns"`
	// Stored and FollowedUp are calls per second end to end: from the first callback sent until the last
	// call was stored, and until the last follow-up reached the sink.
	Stored     float64 `json:"stored_per_second"`
	FollowedUp float64 `json:"followed_up_per_second"`
	// Deliveries counts what the sink received (distinct by webhook-id, and in all).
	Delivered     int   `json:"follow_ups_delivered"`
	DeliveryTotal int   `json:"deliveries_total"`
	APIPeakRSS    int64 `json:"api_peak_rss_bytes"`
	// CostUnderLoad is what a call of the full-load measurement cost in Temporal (one immediate
	// follow-up), the mean over a sample of its calls: under load a workflow task may carry more.
	CostUnderLoad ShapeCost `json:"cost_per_call_under_load"`
}

// runState is what one run works with.
type runState struct {
	opts     Options
	db       *sqlx.DB
	temporal client.Client
	addr     string
	sink     *sink
	plain    *plainReceiver
	dir      string
	worker   *process
	log      func(string, ...any)
	// queue is the run's task queue (ownTaskQueue); key the Sign key of its source "bench", random too.
	queue string
	key   string
	// dsn is the URL of the bench's own database (ownDatabase), which dropDB drops.
	dsn    string
	dropDB func()
	// emptyCost is what an empty workflow of the ceilings cost.
	emptyCost ShapeCost
}

// Run measures everything and returns the report and the worker's peak RSS (the worker runs through
// every mode). It says what it is doing on opts.Log.
func Run(ctx context.Context, opts Options) (*Report, int64, error) {
	if opts.N < 1 || opts.Concurrency < 1 {
		return nil, 0, errors.New("n and concurrency must be at least 1")
	}
	st := &runState{opts: opts, log: func(msg string, args ...any) { opts.Log.Info(msg, args...) }, queue: ownTaskQueue(), key: randomHex(16)}
	var err error
	if st.dir, err = os.MkdirTemp("", "rudderhook-bench-"); err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(st.dir)
	st.addr = opts.TemporalAddress
	if st.addr == "" {
		addr, stop, err := opts.StartTemporal(ctx)
		if err != nil {
			return nil, 0, err
		}
		defer stop()
		st.addr = addr
	}
	if st.temporal, err = client.DialContext(ctx, client.Options{HostPort: st.addr, Namespace: opts.Namespace, Logger: quietSDKLogger()}); err != nil {
		return nil, 0, fmt.Errorf("connect to Temporal at %s: %w", st.addr, err)
	}
	defer st.temporal.Close()
	// Before anything is made: not beside a deployment's workers, unless told to.
	production := []string{workflows.TaskQueue, workflows.TaskQueueOr(opts.ProductionTaskQueue)}
	if err := checkProductionQueues(ctx, st.temporal, opts.Namespace, production, opts.Force, opts.Log); err != nil {
		return nil, 0, err
	}
	if st.db, st.dsn, st.dropDB, err = ownDatabase(ctx, opts.DatabaseURL, st.log); err != nil {
		return nil, 0, err
	}
	defer st.dropDB()
	st.log("rudderhook's serve and worker run on a task queue of the bench's own", "task_queue", st.queue, "namespace", opts.Namespace)
	st.sink = newSink()
	defer st.sink.Close()

	rep := &Report{Date: time.Now().UTC(), Machine: machine(), LoadAverage: loadAverage(), N: opts.N, Concurrency: opts.Concurrency, Temporal: st.addr}
	if st.plain, err = startPlainReceiver(ctx, st.db, st.key); err != nil {
		return nil, 0, err
	}
	defer st.plain.close()
	// The worker runs (idle) while the ceilings are measured too: rudderhook is measured beside it.
	if st.worker, err = st.startWorker(ctx); err != nil {
		return rep, 0, err
	}
	if rep.Ceilings, err = st.ceilings(ctx); err != nil {
		st.worker.stop()
		return rep, 0, err
	}
	for _, mode := range opts.Modes {
		res, err := st.measureMode(ctx, mode)
		if err != nil {
			st.worker.stop()
			return rep, 0, fmt.Errorf("mode %s: %w", mode, err)
		}
		rep.Modes = append(rep.Modes, res)
	}
	if rep.Costs, err = st.measureCosts(ctx); err != nil {
		st.worker.stop()
		return rep, 0, err
	}
	rep.Costs = append([]ShapeCost{st.emptyCost}, rep.Costs...)
	workerRSS := st.worker.peakRSS()
	st.worker.stop()
	return rep, workerRSS, nil
}

func (st *runState) ceilings(ctx context.Context) (Ceilings, error) {
	var c Ceilings
	n, conc := st.opts.N, st.opts.Concurrency
	var err error
	if c.PlainReceiver, err = st.measurePlain(ctx, true); err != nil {
		return c, err
	}
	prefix := randomHex(4)
	st.log("measuring bare workflow starts")
	if c.BareStart, err = bareStarts(ctx, st.temporal, st.queue, prefix, n, conc); err != nil {
		return c, fmt.Errorf("bare starts: %w", err)
	}
	st.log("measuring empty workflows")
	if c.EmptyWorkflow, err = emptyWorkflows(ctx, st.temporal, st.queue, prefix, n, conc); err != nil {
		return c, fmt.Errorf("empty workflows: %w", err)
	}
	// What one of them cost, beside what a call costs (Report.Costs).
	st.emptyCost = ShapeCost{Shape: "empty workflow (the ceiling)", Calls: 1}
	if st.emptyCost.Cost, err = callCost(ctx, st.temporal, emptyWorkflowID(prefix, 0)); err != nil {
		return c, fmt.Errorf("empty workflows: %w", err)
	}
	return c, nil
}

// measurePlain sends N callbacks to the plain receiver at full concurrency, after a warm-up when warm.
func (st *runState) measurePlain(ctx context.Context, warm bool) (Rate, error) {
	bodies, err := MakeBodies("plain-"+randomHex(4), st.opts.N, st.key)
	if err != nil {
		return Rate{}, err
	}
	p := newPoster(st.plain.url, st.opts.Concurrency)
	if warm {
		if err := st.warmUp(ctx, p, "plain", nil); err != nil {
			return Rate{}, fmt.Errorf("plain receiver: %w", err)
		}
	}
	st.log("measuring the plain receiver", "n", st.opts.N, "concurrency", st.opts.Concurrency)
	r, err := run(ctx, st.opts.N, st.opts.Concurrency, func(ctx context.Context, i int) error { return p.post(ctx, bodies.Bodies[i]) })
	if err != nil {
		return r, fmt.Errorf("plain receiver: %w", err)
	}
	return r, nil
}

// ceilingBefore measures again, just before a mode's acknowledgements, the ceiling they are compared
// with: the plain receiver for inbox, bare starts for temporal. Both then meet the machine in the same
// state (the worker idle, the backlog drained, the same minute's noise), which a ceiling measured minutes
// earlier does not promise on a shared machine.
func (st *runState) ceilingBefore(ctx context.Context, mode string) (Rate, error) {
	switch mode {
	case config.AckInbox:
		return st.measurePlain(ctx, false)
	case config.AckTemporal:
		st.log("measuring bare workflow starts", "before", mode)
		return bareStarts(ctx, st.temporal, st.queue, randomHex(4), st.opts.N, st.opts.Concurrency)
	}
	return Rate{}, nil
}

// env is the environment of rudderhook's processes: the bench's database, Temporal, rules and sink.
func (st *runState) env(extra ...string) ([]string, error) {
	rulesFile := filepath.Join(st.dir, "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(benchRules), 0o600); err != nil {
		return nil, err
	}
	return append([]string{
		"DATABASE_URL=" + st.dsn,
		"TEMPORAL_ADDRESS=" + st.addr,
		"TEMPORAL_NAMESPACE=" + st.opts.Namespace,
		"TEMPORAL_TASK_QUEUE=" + st.queue,
		"RUDDERHOOK_ADMIN_TOKEN=" + randomHex(24),
		"RUDDERHOOK_SOURCE_BENCH_KEYS=" + st.key,
		"RUDDERHOOK_TARGET_SINK_URL=" + st.sink.URL,
		// The sink listens on this machine's loopback, which a target may reach only when it says so.
		"RUDDERHOOK_TARGET_SINK_ALLOW_PRIVATE=true",
		"RUDDERHOOK_RULES_FILE=" + rulesFile,
		"RUDDERHOOK_LOG_LEVEL=warn",
	}, extra...), nil
}

func (st *runState) startWorker(ctx context.Context) (*process, error) {
	env, err := st.env()
	if err != nil {
		return nil, err
	}
	w, err := startProcess("worker", st.opts.Binary, []string{"worker"}, env)
	if err != nil {
		return nil, err
	}
	// Ready when it polls the bench's task queue.
	deadline := time.Now().Add(time.Minute)
	for {
		if err := w.exited(); err != nil {
			return nil, err
		}
		resp, err := st.temporal.DescribeTaskQueue(ctx, st.queue, enums.TASK_QUEUE_TYPE_WORKFLOW)
		if err == nil && len(resp.GetPollers()) > 0 {
			return w, nil
		}
		if time.Now().After(deadline) {
			w.stop()
			return nil, fmt.Errorf("the worker did not poll %s within a minute:\n%s", st.queue, lastLines(w.log.String(), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// measureMode starts serve in one acknowledgement mode, sends N callbacks at full concurrency, waits
// until every call is stored and followed up, then sends N/2 at half the rate it saw to read latencies
// under normal load.
func (st *runState) measureMode(ctx context.Context, mode string) (ModeResult, error) {
	res := ModeResult{Mode: mode}
	api, p, err := st.startServe(ctx, mode)
	if err != nil {
		return res, err
	}
	defer api.stop()
	if err := st.warmUp(ctx, p, mode, api); err != nil {
		return res, err
	}
	if res.CeilingBefore, err = st.ceilingBefore(ctx, mode); err != nil {
		return res, err
	}

	n := st.opts.N
	bodies, err := MakeBodies(mode+"-"+randomHex(4), n, st.key)
	if err != nil {
		return res, err
	}
	before, _, _ := st.sink.delivered()
	acked := make([]time.Time, n)
	st.log("measuring acknowledgements", "mode", mode, "n", n, "concurrency", st.opts.Concurrency)
	start := time.Now()
	if res.Acks, err = run(ctx, n, st.opts.Concurrency, func(ctx context.Context, i int) error {
		err := p.post(ctx, bodies.Bodies[i])
		acked[i] = time.Now()
		return err
	}); err != nil {
		return res, fmt.Errorf("acknowledgements (%d of %d failed): %w", res.Acks.Errors, n, err)
	}
	storedAt, err := st.waitStored(ctx, bodies, api)
	if err != nil {
		return res, err
	}
	res.Stored = float64(n) / storedAt.Sub(start).Seconds()
	deliveredAt, err := st.waitDelivered(ctx, before+n, api)
	if err != nil {
		return res, err
	}
	res.FollowedUp = float64(n) / deliveredAt.Sub(start).Seconds()
	res.Delivered, res.DeliveryTotal, _ = st.sink.delivered()
	res.Delivered -= before
	if res.AckToStartP50, res.AckToStartP99, err = st.ackToStart(ctx, bodies, acked); err != nil {
		return res, err
	}
	sample := make([]string, 0, costSample)
	for i := 0; i < n && len(sample) < costSample; i += max(1, n/costSample) {
		sample = append(sample, workflows.CallWorkflowID("bench", bodies.IDs[i]))
	}
	res.CostUnderLoad = ShapeCost{Shape: "one immediate, under " + mode + " full load", Calls: len(sample)}
	if res.CostUnderLoad.Cost, err = meanCost(ctx, st.temporal, sample, st.opts.Concurrency); err != nil {
		return res, fmt.Errorf("cost per call: %w", err)
	}

	half := max(1, n/2)
	paced, err := MakeBodies(mode+"-half-"+randomHex(4), half, st.key)
	if err != nil {
		return res, err
	}
	st.log("measuring acknowledgements at half the rate", "mode", mode, "per_second", res.Acks.PerSec/2)
	if res.AcksAtHalf, err = runPaced(ctx, half, res.Acks.PerSec/2, st.opts.Concurrency*4, func(ctx context.Context, i int) error {
		return p.post(ctx, paced.Bodies[i])
	}); err != nil {
		return res, fmt.Errorf("acknowledgements at half the rate: %w", err)
	}
	if _, err := st.waitStored(ctx, paced, api); err != nil {
		return res, err
	}

	// Normal load: a rate the whole system sustains (half the calls stored per second above), at which
	// a call's workflow should start moments after its acknowledgement.
	normal, err := MakeBodies(mode+"-normal-"+randomHex(4), max(10, n/10), st.key)
	if err != nil {
		return res, err
	}
	res.NormalPerSec = max(1, res.Stored/2)
	normalAcked := make([]time.Time, len(normal.IDs))
	st.log("measuring ack to start at normal load", "mode", mode, "per_second", res.NormalPerSec)
	if _, err = runPaced(ctx, len(normal.IDs), res.NormalPerSec, st.opts.Concurrency, func(ctx context.Context, i int) error {
		err := p.post(ctx, normal.Bodies[i])
		normalAcked[i] = time.Now()
		return err
	}); err != nil {
		return res, fmt.Errorf("acknowledgements at normal load: %w", err)
	}
	if _, err := st.waitStored(ctx, normal, api); err != nil {
		return res, err
	}
	if res.NormalAckToStartP50, res.NormalAckToStartP99, err = st.ackToStart(ctx, normal, normalAcked); err != nil {
		return res, err
	}
	res.APIPeakRSS = api.peakRSS()
	return res, nil
}

// costSample is how many calls of a mode's full load have their histories read for CostUnderLoad.
const costSample = 20

// startServe starts serve in one acknowledgement mode and returns it, ready, with a poster of call
// completions to it.
func (st *runState) startServe(ctx context.Context, mode string) (*process, *poster, error) {
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	env, err := st.env("RUDDERHOOK_ACK="+mode, "RUDDERHOOK_HTTP_ADDR="+httpAddr)
	if err != nil {
		return nil, nil, err
	}
	api, err := startProcess("serve ("+mode+")", st.opts.Binary, []string{"serve"}, env)
	if err != nil {
		return nil, nil, err
	}
	if err := waitHTTP(ctx, "http://"+httpAddr+"/readyz", api); err != nil {
		api.stop()
		return nil, nil, err
	}
	return api, newPoster("http://"+httpAddr+"/webhooks/bench/call-completed", st.opts.Concurrency), nil
}

// measureCosts reads what each shape of call costs in Temporal, through serve in the default ack mode.
func (st *runState) measureCosts(ctx context.Context) ([]ShapeCost, error) {
	api, p, err := st.startServe(ctx, config.AckInbox)
	if err != nil {
		return nil, err
	}
	defer api.stop()
	costs, err := st.measureShapes(ctx, p, api)
	if err != nil {
		return costs, fmt.Errorf("cost per call: %w", err)
	}
	return costs, nil
}

// warmUp sends a few callbacks (a fifth of N, 20 to 200) at full concurrency before a receiver is
// measured, so that neither the plain receiver nor rudderhook is measured cold (connections, pools, the
// runtime's first GCs). For rudderhook (api set) it then waits until their calls are stored and followed
// up, so that their workflows do not run during the measurement.
func (st *runState) warmUp(ctx context.Context, p *poster, name string, api *process) error {
	warm, err := MakeBodies(name+"-warm-"+randomHex(4), min(200, max(20, st.opts.N/5)), st.key)
	if err != nil {
		return err
	}
	st.log("warming up", "receiver", name, "n", len(warm.IDs))
	before, _, _ := st.sink.delivered()
	if _, err := run(ctx, len(warm.IDs), st.opts.Concurrency, func(ctx context.Context, i int) error { return p.post(ctx, warm.Bodies[i]) }); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if api == nil {
		return nil
	}
	if _, err := st.waitStored(ctx, warm, api); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if _, err := st.waitDelivered(ctx, before+len(warm.IDs), api); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	return nil
}

// drainTimeout bounds the wait for calls to be stored: generous, as a backlog drains at Temporal's rate.
func (st *runState) drainTimeout() time.Duration {
	return max(5*time.Minute, time.Duration(st.opts.N)*200*time.Millisecond)
}

// waitStored waits until every call of bodies has its row, and says when the last one came.
func (st *runState) waitStored(ctx context.Context, b *Bodies, api *process) (time.Time, error) {
	deadline := time.Now().Add(st.drainTimeout())
	for {
		var stored int
		if err := st.db.GetContext(ctx, &stored, `SELECT count(*) FROM calls c JOIN subjects s ON s.id = c.subject_id WHERE s.subject_key = ANY($1)`, pq.Array(b.IDs)); err != nil {
			return time.Time{}, err
		}
		if stored == len(b.IDs) {
			return time.Now(), nil
		}
		if err := api.exited(); err != nil {
			return time.Time{}, err
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("only %d of %d calls were stored within %s", stored, len(b.IDs), st.drainTimeout())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitDelivered waits until the sink has seen want distinct follow-ups, and says when the last came.
func (st *runState) waitDelivered(ctx context.Context, want int, api *process) (time.Time, error) {
	deadline := time.Now().Add(st.drainTimeout())
	for {
		distinct, _, last := st.sink.delivered()
		if distinct >= want {
			return last, nil
		}
		if err := st.worker.exited(); err != nil {
			return time.Time{}, err
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("only %d of %d follow-ups reached the sink within %s", distinct, want, st.drainTimeout())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// ackToStart reads each call's workflow start time and compares it with when its callback was answered.
func (st *runState) ackToStart(ctx context.Context, b *Bodies, acked []time.Time) (p50, p99 time.Duration, err error) {
	gaps := make([]time.Duration, len(b.IDs))
	_, err = run(ctx, len(b.IDs), st.opts.Concurrency, func(ctx context.Context, i int) error {
		d, err := st.temporal.DescribeWorkflowExecution(ctx, workflows.CallWorkflowID("bench", b.IDs[i]), "")
		if err != nil {
			return err
		}
		gaps[i] = max(0, d.GetWorkflowExecutionInfo().GetStartTime().AsTime().Sub(acked[i]))
		return nil
	})
	return percentile(gaps, 0.5), percentile(gaps, 0.99), err
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d cores, %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, runtime.Version())
}

// WriteJSON writes the report.
func (r *Report) WriteJSON(w io.Writer, workerRSS int64) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Report
		WorkerPeakRSS int64 `json:"worker_peak_rss_bytes"`
		Ratios        map[string]float64
	}{r, workerRSS, r.Ratios()})
}

// Ratios are the figures the targets are stated in.
func (r *Report) Ratios() map[string]float64 {
	out := map[string]float64{}
	for _, m := range r.Modes {
		switch m.Mode {
		case config.AckInbox:
			out["inbox_acks_vs_plain_receiver"] = ratio(m.Acks.PerSec, cmp.Or(m.CeilingBefore.PerSec, r.Ceilings.PlainReceiver.PerSec))
		case config.AckTemporal:
			out["temporal_acks_vs_bare_start"] = ratio(m.Acks.PerSec, cmp.Or(m.CeilingBefore.PerSec, r.Ceilings.BareStart.PerSec))
		}
		out[m.Mode+"_stored_vs_empty_workflow"] = ratio(m.Stored, r.Ceilings.EmptyWorkflow.PerSec)
		out[m.Mode+"_followed_up_vs_empty_workflow"] = ratio(m.FollowedUp, r.Ceilings.EmptyWorkflow.PerSec)
	}
	return out
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// WriteTable prints the report as a table a person reads.
func (r *Report) WriteTable(w io.Writer, workerRSS int64) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "rudderhook bench, %s\n%s (load average %s at start); n=%d, concurrency=%d, Temporal at %s\n\n",
		r.Date.Format(time.RFC3339), r.Machine, r.LoadAverage, r.N, r.Concurrency, r.Temporal)
	fmt.Fprintf(w, "%-40s %10s %10s %10s %10s\n", "ceiling", "per s", "p50", "p95", "p99")
	for _, c := range []struct {
		name string
		r    Rate
	}{{"plain receiver (Sign + INSERT + {})", r.Ceilings.PlainReceiver}, {"bare StartWorkflow", r.Ceilings.BareStart}, {"empty workflow, start to completion", r.Ceilings.EmptyWorkflow}} {
		fmt.Fprintf(w, "%-40s %10.0f %10s %10s %10s\n", c.name, c.r.PerSec, ms(c.r.P50), ms(c.r.P95), ms(c.r.P99))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-10s %8s %9s %9s %9s %10s %11s %11s %9s %9s %11s %9s\n", "ack mode", "acks/s", "p50", "p95", "p99",
		"p99 at ½", "→start p50", "→start p99", "stored/s", "f-ups/s", "delivered", "API RSS")
	for _, m := range r.Modes {
		fmt.Fprintf(w, "%-10s %8.0f %9s %9s %9s %10s %11s %11s %9.1f %9.1f %11s %9s\n", m.Mode, m.Acks.PerSec, ms(m.Acks.P50), ms(m.Acks.P95), ms(m.Acks.P99),
			ms(m.AcksAtHalf.P99), ms(m.AckToStartP50), ms(m.AckToStartP99), m.Stored, m.FollowedUp, fmt.Sprintf("%d/%d", m.Delivered, r.N), mib(m.APIPeakRSS))
	}
	fmt.Fprintln(w, "(→start: from a callback's acknowledgement to its workflow's start at full load, when a backlog drains; 0 when the start came first)")
	fmt.Fprintf(w, "\n%-10s %14s %16s %16s\n", "ack mode", "normal load/s", "ack→start p50", "ack→start p99")
	for _, m := range r.Modes {
		fmt.Fprintf(w, "%-10s %14.1f %16s %16s\n", m.Mode, m.NormalPerSec, ms(m.NormalAckToStartP50), ms(m.NormalAckToStartP99))
	}
	fmt.Fprintf(w, "\n%-10s %-36s %10s %10s\n", "ack mode", "ceiling measured just before its acks", "per s", "p50")
	for _, m := range r.Modes {
		name := map[string]string{config.AckInbox: "plain receiver", config.AckTemporal: "bare StartWorkflow"}[m.Mode]
		fmt.Fprintf(w, "%-10s %-36s %10.0f %10s\n", m.Mode, name, m.CeilingBefore.PerSec, ms(m.CeilingBefore.P50))
	}
	r.writeCosts(w)
	fmt.Fprintf(w, "\nworker peak RSS %s\n\nratios (acks against the ceiling measured just before them):\n", mib(workerRSS))
	ratios := r.Ratios()
	for _, k := range slices.Sorted(maps.Keys(ratios)) {
		fmt.Fprintf(w, "  %-36s %.2f\n", k, ratios[k])
	}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// writeCosts prints what a call cost in Temporal, by shape and under each mode's load.
func (r *Report) writeCosts(w io.Writer) {
	rows := slices.Clone(r.Costs)
	for _, m := range r.Modes {
		rows = append(rows, m.CostUnderLoad)
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\nper call, read from the run's histories (actions: Temporal Cloud's, estimated)\n")
	fmt.Fprintf(w, "%-84s %5s %7s %9s %7s %9s %8s %10s %8s %6s %7s %7s\n", "shape", "calls", "actions", "workflows", "events", "bytes", "wf tasks",
		"activities", "LA tasks", "timers", "upserts", "signals")
	for _, c := range rows {
		fmt.Fprintf(w, "%-84s %5d %7.1f %9.1f %7.1f %9.0f %8.1f %10.1f %8.1f %6.1f %7.1f %7.1f\n", c.Shape, c.Calls, c.Actions, c.Workflows, c.Events,
			c.HistoryBytes, c.WorkflowTasks, c.Activities, c.LocalActivityTasks, c.Timers, c.Upserts, c.Signals)
	}
}
