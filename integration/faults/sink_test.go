package faults

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// sink is the follow-up target (a CRM): it records every delivery by its webhook-id and can be taken down
// (connections refused) or made slow.
type sink struct {
	addr string

	mu         sync.Mutex
	srv        *http.Server
	slow       time.Duration
	deliveries map[string]int // by webhook-id
	raw        int
}

func startSink() (*sink, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &sink{addr: addr, deliveries: map[string]int{}}
	return s, s.up()
}

// up serves on the sink's address (again).
func (s *sink) up() error {
	var ln net.Listener
	var err error
	for range 50 { // the old listener's port may take a moment to be free
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(s.receive), ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return nil
}

// down closes the listener and every open connection: senders get "connection refused".
func (s *sink) down() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// setSlow makes every answer from now on take d (0: answer at once).
func (s *sink) setSlow(d time.Duration) {
	s.mu.Lock()
	s.slow = d
	s.mu.Unlock()
}

func (s *sink) receive(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	// The request arrived whole: the target has it, whatever happens to the answer.
	s.deliveries[r.Header.Get("webhook-id")]++
	s.raw++
	slow := s.slow
	s.mu.Unlock()
	if slow > 0 {
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

// received is a copy of the deliveries so far and their raw count.
func (s *sink) received() (map[string]int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.deliveries))
	for k, v := range s.deliveries {
		out[k] = v
	}
	return out, s.raw
}

func (s *sink) close() {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			_ = srv.Close()
		}
	}
}
