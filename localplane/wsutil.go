package localplane

import (
	"context"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/ecsd/ecsd/controlplane/payload"
)

// writeTimeout bounds one websocket write; a peer that cannot take a frame in this time
// is gone.
const writeTimeout = 30 * time.Second

// refuseUpgrade answers a websocket handshake with an HTTP error whose body is a framed
// exception, {"type":"InvalidInstanceException","message":{"message":"..."}}, which the
// agent decodes into a typed error (payload.DecodeErrorBody).
func refuseUpgrade(w http.ResponseWriter, status int, typ, msg string) {
	body, err := payload.Encode(typ, struct {
		Message string `json:"message"`
	}{msg})
	if err != nil {
		body = []byte(`{"type":"ServerException","message":{"message":"cannot encode the error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// accept upgrades the request with the settings both sessions share.
func accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(payload.MaxFrameSize)
	return conn, nil
}

// writeFrame sends one text frame.
func writeFrame(ctx context.Context, conn *websocket.Conn, data []byte) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return conn.Write(ctx, websocket.MessageText, data)
}
