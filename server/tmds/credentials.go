package tmds

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/server/metadata"
)

// Credentials error codes and texts (spec §3.1).
const (
	errNoIDInRequest            = "NoIdInRequest"
	errInvalidIDInRequest       = "InvalidIdInRequest"
	errCredentialsUninitialized = "CredentialsUninitialized"

	msgNoID          = "No Credential ID in the request"
	msgNotFound      = "Credentials not found"
	msgUninitialized = "Credentials uninitialized for ID"
)

// Audit event types, as the reference agent's audit log names them.
const (
	eventGetCredentials              = "GetCredentials"
	eventGetCredentialsExecutionRole = "GetCredentialsExecutionRole"
)

// credentialsPathV2 is the v2 credentials route prefix; the rest of the path is the ID.
const credentialsPathV2 = "/v2/credentials/"

// credentialsResult is the outcome of a credentials request, before it is written.
type credentialsResult struct {
	status int
	body   any
	entry  *credentials.Entry // nil when the ID named nothing
	reason string             // why a known ID was refused; audit only
}

// serveCredentials answers /v1/credentials?id= (apiVersion 1) and /v2/credentials/<id>.
func (h *handler) serveCredentials(w http.ResponseWriter, r *http.Request, apiVersion int, id string) {
	res := h.resolveCredentials(r.Context(), r, id, fmt.Sprintf("CredentialsV%dRequest: ", apiVersion))
	kv := []any{"status", res.status, "source", r.RemoteAddr, "path", redactPath(r.URL.Path), "userAgent", r.UserAgent()}
	if e := res.entry; e != nil {
		event := eventGetCredentials
		if e.RoleType == credentials.TaskExecution {
			event = eventGetCredentialsExecutionRole
		}
		kv = append(kv, "event", event, "taskArn", e.TaskARN, "roleType", string(e.RoleType))
	}
	if res.reason != "" {
		kv = append(kv, "refused", res.reason)
	}
	h.audit.Info("credentials request", kv...)
	writeJSON(w, res.status, res.body)
}

// resolveCredentials decides the answer. A refused source, expired credentials and an
// unknown ID all get the same 400, so a caller learns nothing about IDs it does not own.
// An ID a task holds whose credentials have not arrived (pendingCredentials) gets 503
// CredentialsUninitialized, but only once the caller passed the source check.
func (h *handler) resolveCredentials(ctx context.Context, r *http.Request, id, prefix string) credentialsResult {
	fail := func(status int, code, msg string) credentialsResult {
		return credentialsResult{status: status, body: credentialsError{Code: code, Message: prefix + msg, HTTPErrorCode: status}}
	}
	if id == "" {
		return fail(http.StatusBadRequest, errNoIDInRequest, msgNoID)
	}
	if h.o.Credentials == nil {
		return fail(http.StatusBadRequest, errInvalidIDInRequest, msgNotFound)
	}
	e, ok := h.o.Credentials.Get(id)
	if !ok {
		// A pending entry has no secrets, so it ends in the 503 below.
		if e, ok = h.pendingCredentials(ctx, id); !ok {
			return fail(http.StatusBadRequest, errInvalidIDInRequest, msgNotFound)
		}
	}
	notFound := fail(http.StatusBadRequest, errInvalidIDInRequest, msgNotFound)
	notFound.entry = &e
	if reason := h.refuseSource(ctx, r, e); reason != "" {
		notFound.reason = reason
		return notFound
	}
	if e.Expired(h.o.Now()) {
		notFound.reason = "expired"
		return notFound
	}
	if e.AccessKeyID == "" || e.SecretAccessKey == "" {
		res := fail(http.StatusServiceUnavailable, errCredentialsUninitialized, msgUninitialized)
		res.entry = &e
		return res
	}
	body := credentialsResponse{
		RoleArn:         e.RoleARN,
		AccessKeyID:     e.AccessKeyID,
		SecretAccessKey: e.SecretAccessKey,
		Token:           e.SessionToken,
	}
	if !e.Expiration.IsZero() {
		body.Expiration = e.Expiration.UTC().Format(time.RFC3339)
	}
	return credentialsResult{status: http.StatusOK, body: body, entry: &e}
}

// refuseSource returns why the caller may not have e, or "" when it may (DESIGN §9).
//   - Execution-role credentials are for the agent's own helpers on the host (log drivers,
//     pulls) and are never handed to containers, so only local callers get them.
//   - A host-network task's containers are the host; with HostNetworkCredentials local
//     callers get its credentials, without it nobody does.
//   - Everyone else must send from an address of the owning task.
func (h *handler) refuseSource(ctx context.Context, r *http.Request, e credentials.Entry) string {
	if !h.o.CheckCredentialsSource {
		return ""
	}
	ip, err := remoteAddr(r)
	if err != nil {
		return "unparseable source address"
	}
	if e.RoleType == credentials.TaskExecution {
		if h.isLocal(ip) {
			return ""
		}
		return "execution role credentials requested from off the host"
	}
	v, err := metadata.LoadTaskByARN(ctx, h.o.Reader, e.TaskARN)
	if err != nil {
		return "owning task not readable: " + err.Error()
	}
	if v.Task.NetworkMode() == metadata.NetworkModeHost {
		switch {
		case !h.o.HostNetworkCredentials:
			return "host network task credentials are disabled"
		case !h.isLocal(ip):
			return "host network task credentials requested from off the host"
		}
		return ""
	}
	if !taskOwnsAddr(v.Task, v.Containers, ip) {
		return "source address does not belong to the owning task"
	}
	return ""
}

// redactPath hides the credentials ID, which is the only secret a credentials request
// carries in its URL, before a path is logged.
func redactPath(p string) string {
	if strings.HasPrefix(p, credentialsPathV2) && len(p) > len(credentialsPathV2) {
		return credentialsPathV2 + "REDACTED"
	}
	return p
}
