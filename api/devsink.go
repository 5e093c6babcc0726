package api

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// DevSink stands in for the CRM and team channel under `rudderhook dev`: targets that the rules name but
// the laptop has not configured point here. It keeps the last deliveries in memory, so the walkthrough can
// show what a follow-up sent. It is never mounted by `serve`.
type DevSink struct {
	mu         sync.Mutex
	deliveries []SinkDelivery
}

// SinkDelivery is one request the sink received.
type SinkDelivery struct {
	Target     string          `json:"target"`
	ReceivedAt time.Time       `json:"received_at"`
	WebhookID  string          `json:"webhook_id,omitempty"`
	Signed     bool            `json:"signed"`
	Body       json.RawMessage `json:"body"`
}

const sinkKeep = 100

func (d *DevSink) receive(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, 1<<20))
	if err != nil || !json.Valid(body) {
		c.JSON(http.StatusBadRequest, gin.H{"error": "the sink takes JSON"})
		return
	}
	d.mu.Lock()
	d.deliveries = append(d.deliveries, SinkDelivery{
		Target: c.Param("target"), ReceivedAt: time.Now().UTC(), WebhookID: c.GetHeader("webhook-id"),
		Signed: c.GetHeader("webhook-signature") != "", Body: body,
	})
	if len(d.deliveries) > sinkKeep {
		d.deliveries = d.deliveries[len(d.deliveries)-sinkKeep:]
	}
	d.mu.Unlock()
	c.JSON(http.StatusOK, gin.H{"ok": true})
}

func (d *DevSink) list(c *gin.Context) {
	d.mu.Lock()
	out := append([]SinkDelivery{}, d.deliveries...)
	d.mu.Unlock()
	c.JSON(http.StatusOK, gin.H{"deliveries": out})
}
