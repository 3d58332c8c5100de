package wsclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/coder/websocket"
)

var creds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s"}, nil
})

func TestReadLoopDropsOversizedAndBinaryFrames(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			http.Error(w, `{"type":"AccessDeniedException","message":{"message":"unsigned"}}`, http.StatusForbidden)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ctx := r.Context()
		_ = c.Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", 100)))
		_ = c.Write(ctx, websocket.MessageBinary, []byte("bin"))
		_ = c.Write(ctx, websocket.MessageText, []byte("ok"))
		_ = c.Close(websocket.StatusNormalClosure, "")
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	ws, err := Dial(context.Background(), url, creds, "us-west-2", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	var dropped []int64
	frames, errs := ReadLoop(context.Background(), ws, 10, func(n int64) { dropped = append(dropped, n) })
	var got []string
	for {
		select {
		case f := <-frames:
			got = append(got, string(f))
			continue
		case err := <-errs:
			if !CleanClose(err) {
				t.Errorf("close %v: want a clean close", err)
			}
		}
		break
	}
	if strings.Join(got, ",") != ",,ok" || len(dropped) != 2 || dropped[0] != 100 || dropped[1] != 3 {
		t.Errorf("frames %q dropped %v; want two dropped (100 and 3 bytes) then ok", got, dropped)
	}
}

func TestDialRefusedAndUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"InactiveInstanceException":"gone"}`))
	}))
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	_, err := Dial(context.Background(), url, creds, "us-west-2", nil, 5*time.Second)
	var refused *Refused
	if !errors.As(err, &refused) || refused.Status != http.StatusBadRequest || !strings.Contains(string(refused.Body), "InactiveInstanceException") {
		t.Errorf("refused dial: %v", err)
	}
	srv.Close()
	if _, err := Dial(context.Background(), url, creds, "us-west-2", nil, 5*time.Second); !errors.Is(err, ErrUnreachable) {
		t.Errorf("dial to a closed server: %v, want ErrUnreachable", err)
	}
	if CleanClose(errors.New("boom")) || !CleanClose(io.EOF) {
		t.Error("CleanClose misclassifies")
	}
	for i := 0; i < 100; i++ {
		if j := Jitter(time.Second); j < 0 || j >= time.Second {
			t.Fatalf("Jitter(1s) = %v", j)
		}
	}
}
