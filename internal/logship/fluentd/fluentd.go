// Package fluentd is the fluentd log driver of ecsd-logger-ship: it sends a container's
// lines to a Fluentd (or Fluent Bit) forward input with package fluentforward, each as an
// event with the record Docker's fluentd driver sends (container_id, container_name,
// source, log, and partial_message on the pieces of a long line).
package fluentd

import (
	"context"
	"fmt"
	"time"

	"github.com/ecsd/ecsd/internal/fluentforward"
	"github.com/ecsd/ecsd/internal/logship"
)

// Config is the driver's set-up.
type Config struct {
	Addr          fluentforward.Address
	Tag           string
	ContainerID   string
	ContainerName string
	SubSecond     bool
	RequestAck    bool
	WriteTimeout  time.Duration
}

// Sender is a logship.Sender over the forward protocol.
type Sender struct {
	cfg    Config
	client fluentforward.Client
	events []fluentforward.Event
}

// NewSender returns a sender; it connects when it first sends.
func NewSender(cfg Config) *Sender {
	return &Sender{cfg: cfg, client: fluentforward.Client{
		Addr: cfg.Addr, SubSecond: cfg.SubSecond, RequestAck: cfg.RequestAck, Timeout: cfg.WriteTimeout,
	}}
}

// Record is the record of one message, as Docker's fluentd driver builds it.
func Record(m logship.Message, containerID, containerName string) map[string]string {
	r := map[string]string{
		"container_id":   containerID,
		"container_name": containerName,
		"source":         m.Stream.String(),
		"log":            string(m.Line),
	}
	if m.Partial {
		r["partial_message"] = "true"
	}
	return r
}

// Send implements logship.Sender: the batch as one Forward mode message.
func (s *Sender) Send(ctx context.Context, batch []logship.Message) error {
	s.events = s.events[:0]
	for _, m := range batch {
		s.events = append(s.events, fluentforward.Event{Time: m.Time, Record: Record(m, s.cfg.ContainerID, s.cfg.ContainerName)})
	}
	if err := s.client.Send(ctx, s.cfg.Tag, s.events); err != nil {
		return fmt.Errorf("send %d events: %w", len(batch), err)
	}
	return nil
}

// Close implements logship.Sender.
func (s *Sender) Close() error { return s.client.Close() }
