package integration

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkReceive measures the receiver end to end on this machine: signed callbacks posted over HTTP
// by parallel clients, each answered 200 only once its workflow start is durable in the in-process
// Temporal server, then the time until every call's workflow has stored it in PostgreSQL.
//
//	go test ./integration -run '^$' -bench Receive -benchtime 2000x
func BenchmarkReceive(b *testing.B) {
	s := start(b, options{})
	var n atomic.Int64
	prefix := fmt.Sprintf("bench-%d-", time.Now().UnixNano())
	b.SetParallelism(4) // 4 × GOMAXPROCS concurrent senders
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		client := &http.Client{}
		for pb.Next() {
			id := prefix + fmt.Sprint(n.Add(1))
			body := signed(b, func(_ map[string]any, d []any) []any { return []any{detailCopy(d, id)} })
			req, _ := http.NewRequest(http.MethodPost, s.http.URL+"/webhooks/airudder/call-completed", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
			}
		}
	})
	accepted := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "accepted/s")

	// Wait until every call is stored: the rate the whole pipeline sustains.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for {
		var stored int64
		if err := s.db.GetContext(ctx, &stored, "SELECT count(*) FROM calls c JOIN subjects s ON s.id = c.subject_id WHERE s.subject_key LIKE $1", prefix+"%"); err != nil {
			b.Fatal(err)
		}
		if stored == int64(b.N) {
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("only %d of %d calls stored", stored, b.N)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "stored/s")
}
