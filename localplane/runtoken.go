package localplane

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"
)

// RunTask's clientToken makes it idempotent, as in ECS: the AWS CLI and the SDKs fill it
// with a random token that they reuse when they retry a call, so a RunTask retried after
// a timeout or a 5xx places its tasks once. The tasks a token placed are recorded in the
// state, in the same write as the tasks; the same token with the same parameters answers
// with those tasks again, and with other parameters is a ConflictException.

// runTokenRetention is how long a token is remembered. ECS does not document it; a day
// covers any client's retries with room to spare.
const runTokenRetention = 24 * time.Hour

// runToken is what one clientToken placed.
type runToken struct {
	// Fingerprint identifies the request's parameters (runTaskFingerprint).
	Fingerprint string    `json:"fingerprint"`
	Tasks       []string  `json:"tasks"`
	Failures    []failure `json:"failures,omitempty"`
	CreatedAt   Timestamp `json:"createdAt"`
}

// runTokenKey scopes a token to its cluster (cluster names cannot contain '/').
func runTokenKey(cluster, token string) string { return cluster + "/" + token }

// runTaskFingerprint is a digest of the request without its token, with count defaulted,
// so a retry matches its first attempt and any other request does not.
func runTaskFingerprint(in runTaskRequest, count int) string {
	in.ClientToken = ""
	c := int32(count)
	in.Count = &c
	data, err := json.Marshal(in)
	if err != nil {
		return "" // plain data: cannot fail
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// replayRunTask answers a retried RunTask from its token's record: the tasks it placed,
// as they are now (those since forgotten are left out), and its failures.
func (s *Server) replayRunTask(st *state, rec *runToken, fingerprint string) (*tasksResponse, error) {
	if rec.Fingerprint != fingerprint {
		e := newAPIError("ConflictException", http.StatusBadRequest,
			"The specified clientToken is already in use with a different RunTask request.")
		e.resourceIDs = rec.Tasks
		return nil, e
	}
	out := &tasksResponse{Tasks: []taskOutput{}, Failures: append([]failure{}, rec.Failures...)}
	for _, arn := range rec.Tasks {
		if t := st.Tasks[arn]; t != nil {
			out.Tasks = append(out.Tasks, s.taskOutput(st, t, nil))
		}
	}
	return out, nil
}

// pruneRunTokens forgets tokens older than runTokenRetention.
func (s *Server) pruneRunTokens(st *state) {
	cutoff := s.now().Add(-runTokenRetention)
	for k, rec := range st.RunTokens {
		if rec.CreatedAt.Before(cutoff) {
			delete(st.RunTokens, k)
		}
	}
}
