package fluentd

import (
	"reflect"
	"testing"
	"time"

	"github.com/ecsd/ecsd/internal/containerlog"
	"github.com/ecsd/ecsd/internal/logship"
)

// Records are Docker's fluentd records.
func TestRecord(t *testing.T) {
	m := logship.Message{Time: time.Now(), Stream: containerlog.Stderr, Line: []byte("boom")}
	want := map[string]string{"container_id": "abc", "container_name": "/ecs-x", "source": "stderr", "log": "boom"}
	if got := Record(m, "abc", "/ecs-x"); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	m.Partial, m.Stream = true, containerlog.Stdout
	want["partial_message"], want["source"] = "true", "stdout"
	if got := Record(m, "abc", "/ecs-x"); !reflect.DeepEqual(got, want) {
		t.Errorf("partial: got %v, want %v", got, want)
	}
}
