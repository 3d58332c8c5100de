package objectapi

import (
	"net/http"
	"time"
)

// streamWriteTimeout bounds each write of a long-lived response: a client that stops
// reading is dropped after this long, however long the stream itself lasts.
const streamWriteTimeout = 30 * time.Second

// stream is a long-lived response (a watch, a followed log). The introspection server's
// write timeout is meant for short requests and would cut the stream a few seconds in, so
// a stream sets a fresh write deadline before every write, then flushes, so that each event
// or log chunk reaches the client at once. (The read timeout needs nothing: net/http lifts
// it once the request has been read.)
type stream struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// startStream sends the response header and returns the stream.
func startStream(w http.ResponseWriter, contentType string) (*stream, error) {
	s := &stream{w: w, rc: http.NewResponseController(w)}
	// Not every ResponseWriter supports deadlines (httptest's recorder does not); without
	// one there is no server timeout to lift either.
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	return s, s.rc.Flush()
}

// Write writes b and flushes it to the client.
func (s *stream) Write(b []byte) (int, error) {
	_ = s.rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	n, err := s.w.Write(b)
	if err != nil {
		return n, err
	}
	return n, s.rc.Flush()
}
