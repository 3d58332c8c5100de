package localplane

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/controlplane/payload"
	"github.com/ecsd/ecsd/controlplane/sigv4"
)

// TCS frame types this server answers.
const (
	tcsPublishMetrics        = "PublishMetricsRequest"
	tcsPublishHealth         = "PublishHealthRequest"
	tcsPublishInstanceStatus = "PublishInstanceStatusRequest"
)

// tcsAck is the message of AckPublishMetric, AckPublishHealth and AckPublishInstanceStatus.
type tcsAck struct {
	Message string `json:"message,omitempty"`
}

// tcsSession is one agent's TCS websocket: it verifies and records every frame, answers
// each publish request with its ack, and sends heartbeats.
type tcsSession struct {
	s        *Server
	conn     *websocket.Conn
	log      logr.Logger
	instance string
	// url is the URL the agent opened the session with; its frames are signed for it.
	url    string
	ctx    context.Context
	cancel context.CancelFunc
}

func (t *tcsSession) closeNow() {
	t.cancel()
	_ = t.conn.CloseNow()
}

// serveTCS accepts an agent's TCS websocket.
func (s *Server) serveTCS(w http.ResponseWriter, r *http.Request) {
	if err := s.authenticate(r, sigv4.EmptyPayloadHash); err != nil {
		s.log.Info("refused a TCS handshake", "reason", err.Error(), "remote", r.RemoteAddr)
		refuseUpgrade(w, http.StatusForbidden, payload.TypeAccessDeniedException, authError(err).msg)
		return
	}
	q := r.URL.Query()
	instance, _, typ, msg := s.acsInstance(q.Get("cluster"), q.Get("containerInstance"))
	if typ != "" {
		if typ != payload.TypeBadRequestException && typ != payload.TypeServerException {
			typ = "InvalidParameterException" // TCS models no instance or cluster exceptions
		}
		s.log.Info("refused a TCS handshake", "reason", typ+": "+msg)
		refuseUpgrade(w, http.StatusBadRequest, typ, msg)
		return
	}
	conn, err := accept(w, r)
	if err != nil {
		s.log.Info("TCS websocket upgrade failed", "error", err.Error())
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	ctx, cancel := context.WithCancel(s.ctx)
	t := &tcsSession{s: s, conn: conn, instance: instance, url: scheme + "://" + r.Host + r.URL.RequestURI(),
		log: s.log.WithValues("session", "tcs", "containerInstance", instance), ctx: ctx, cancel: cancel}
	if !s.addTCS(t) {
		t.closeNow()
		return
	}
	defer s.removeTCS(t)
	t.log.Info("TCS session connected")
	t.run()
	t.log.Info("TCS session ended")
}

func (t *tcsSession) run() {
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		t.readLoop()
		t.cancel()
	}()
	ticker := time.NewTicker(t.s.opts.HeartbeatInterval)
	defer ticker.Stop()
	for {
		select {
		case <-t.ctx.Done():
			t.closeNow()
			<-readDone
			return
		case <-ticker.C:
			if err := t.send("HeartbeatMessage", &payload.HeartbeatMessage{Healthy: true}); err != nil {
				t.log.V(1).Info("TCS heartbeat failed", "reason", err.Error())
				t.closeNow()
			}
		}
	}
}

func (t *tcsSession) send(typ string, msg any) error {
	data, err := payload.Encode(typ, msg)
	if err != nil {
		return err
	}
	return writeFrame(t.ctx, t.conn, data)
}

func (t *tcsSession) readLoop() {
	for {
		_, data, err := t.conn.Read(t.ctx)
		if err != nil {
			if !errors.Is(err, t.ctx.Err()) {
				t.log.V(1).Info("TCS read ended", "reason", err.Error())
			}
			return
		}
		if err := t.handle(data); err != nil {
			t.log.Info("ignoring a TCS frame", "reason", err.Error())
		}
	}
}

// handle verifies, records and answers one frame.
func (t *tcsSession) handle(data []byte) error {
	var body []byte
	if t.s.authRequired() {
		b, _, err := sigv4.VerifyFrame(data, t.url, t.s.lookupSecret, t.s.now())
		if err != nil {
			return err
		}
		body = b
	} else if _, b, err := sigv4.SplitFrame(data); err == nil {
		body = b
	} else {
		body = data // unsigned, and nobody checks
	}
	f, err := payload.DecodeFrame(body)
	if err != nil {
		return err
	}
	t.s.recordTelemetry(TelemetryFrame{ContainerInstance: t.instance, Received: t.s.now(), Type: f.Type,
		Message: append(json.RawMessage(nil), f.Message...)})
	switch f.Type {
	case tcsPublishMetrics:
		return t.send("AckPublishMetric", tcsAck{})
	case tcsPublishHealth:
		t.s.recordHealth(f.Message)
		return t.send("AckPublishHealth", tcsAck{})
	case tcsPublishInstanceStatus:
		t.s.recordInstanceStatus(t.instance, f.Message)
		return t.send("AckPublishInstanceStatus", tcsAck{})
	}
	t.log.Info("ignoring an unexpected TCS message", "type", f.Type)
	return nil
}
