package tmds

import (
	"encoding/json"
	"net/http"
)

// writeJSON marshals v and writes it with status. A marshal failure becomes 500 with "{}",
// which is what the reference agent answers in that case.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte("{}")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeError writes a metadata error: the body is the message as a JSON string, not an
// object (spec §2.5).
func writeError(w http.ResponseWriter, status int, msg string) { writeJSON(w, status, msg) }
