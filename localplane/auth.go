package localplane

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ecsd/ecsd/controlplane/sigv4"
)

// errExpiredToken: the request was signed with task role credentials past their
// expiration. AWS answers ExpiredTokenException.
var errExpiredToken = errors.New("security token expired")

// authenticate verifies r's SigV4 signature when Options.Credentials is set, and that it
// was made for ECS. It knows the instance credentials only: the ACS and TCS handshakes
// are the agent's, never a task's.
func (s *Server) authenticate(r *http.Request, payloadHash string) error {
	if !s.authRequired() {
		return nil
	}
	id, err := sigv4.Verify(r, payloadHash, s.lookupSecret, s.now())
	if err != nil {
		return err
	}
	return s.checkScope(id)
}

// checkScope refuses a signature scoped to another service. The region of the scope may be
// any: the signature is still verified with it (the signing key derives from it), and a
// user's AWS CLI or SDK pointed at the plane signs for whatever region its profile names,
// which has no meaning for a plane on one machine. ARNs keep Options.Region.
func (s *Server) checkScope(id sigv4.Identity) error {
	if id.Service != sigv4.ServiceECS {
		return fmt.Errorf("%w: credential scoped to service %s, want %s", sigv4.ErrBadSignature, id.Service, sigv4.ServiceECS)
	}
	return nil
}

func (s *Server) lookupSecret(accessKeyID string) (string, bool) {
	s.keysMu.RLock()
	defer s.keysMu.RUnlock()
	secret, ok := s.keys[accessKeyID]
	return secret, ok
}

// principal is who signed an ECS API request. The zero value is the instance (a key of
// Options.Credentials) or, when signatures are not checked, an anonymous caller; both
// may call every operation.
type principal struct {
	// task is the ARN of the task whose role credentials signed the request.
	task string
	// role is that task's role ARN, for AccessDenied messages.
	role string
}

// isTask reports whether the request was signed with a task's role credentials.
func (p principal) isTask() bool { return p.task != "" }

// arn is the caller as IAM names an assumed task role, for AccessDenied messages.
func (p principal) arn(account string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + lastSegment(p.role) + "/" + lastSegment(p.task)
}

// taskKey is the task role credentials an access key ID belongs to.
type taskKey struct {
	principal
	secret, token, expiration string
}

// taskRoleKey finds the live task role credentials with accessKeyID. Only the current
// keys of a task's role (not its execution role) count: a rotated key is forgotten, as
// IAM forgets expired session credentials.
func (s *Server) taskRoleKey(accessKeyID string) (taskKey, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.st.Tasks {
		c := t.RoleCredentials
		if c != nil && c.AccessKeyID != "" && c.AccessKeyID == accessKeyID {
			return taskKey{principal: principal{task: t.ARN, role: c.RoleArn},
				secret: c.SecretAccessKey, token: c.SessionToken, expiration: c.Expiration}, true
		}
	}
	return taskKey{}, false
}

// authenticateAPI verifies an ECS API request and says who signed it. Besides the
// instance credentials it accepts the task role credentials this server issued, so that
// an agent can call the task protection operations on a task's behalf exactly as it
// would against ECS; callAPI then limits what such a caller may do.
//
// Without Options.Credentials nothing is required, as for every other operation; but a
// request signed with a task's role credentials is still verified and bound to that task,
// so the task scoping can be exercised (and is honoured) in an unauthenticated setup too.
func (s *Server) authenticateAPI(r *http.Request, payloadHash string) (principal, error) {
	var key taskKey
	var isTaskKey bool
	lookup := func(accessKeyID string) (string, bool) {
		if secret, ok := s.lookupSecret(accessKeyID); ok {
			return secret, true
		}
		key, isTaskKey = s.taskRoleKey(accessKeyID)
		return key.secret, isTaskKey
	}
	id, err := sigv4.Verify(r, payloadHash, lookup, s.now())
	if !s.authRequired() && !isTaskKey {
		return principal{}, nil
	}
	if err == nil {
		err = s.checkScope(id)
	}
	if err != nil || !isTaskKey {
		return principal{}, err
	}
	// The session token is what makes temporary credentials valid; the signature alone
	// proves possession of the secret key only.
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Amz-Security-Token")), []byte(key.token)) != 1 {
		return principal{}, fmt.Errorf("%w: session token does not match task role credentials", sigv4.ErrUnknownKey)
	}
	if exp, err := time.Parse(time.RFC3339, key.expiration); err == nil && !s.now().Before(exp) {
		return principal{}, fmt.Errorf("%w: task role credentials expired at %s", errExpiredToken, key.expiration)
	}
	return key.principal, nil
}

// authError maps a verification error to the error AWS answers with, so clients show
// the message they would get from AWS.
func authError(err error) *apiError {
	switch {
	case errors.Is(err, sigv4.ErrMissingAuth):
		return newAPIError("MissingAuthenticationTokenException", http.StatusForbidden, "Missing Authentication Token")
	case errors.Is(err, sigv4.ErrUnknownKey):
		return newAPIError("UnrecognizedClientException", http.StatusBadRequest, "The security token included in the request is invalid.")
	case errors.Is(err, sigv4.ErrExpired):
		return newAPIError("InvalidSignatureException", http.StatusBadRequest, "Signature expired: %s", err.Error())
	case errors.Is(err, errExpiredToken):
		return newAPIError("ExpiredTokenException", http.StatusBadRequest, "The security token included in the request is expired")
	}
	return newAPIError("InvalidSignatureException", http.StatusBadRequest,
		"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
}

// errAccessDenied is IAM's refusal of an action, as ECS reports it.
func errAccessDenied(p principal, account, op, resource string) error {
	msg := fmt.Sprintf("User: %s is not authorized to perform: ecs:%s", p.arn(account), op)
	if resource != "" {
		msg += " on resource: " + resource
	}
	return newAPIError("AccessDeniedException", http.StatusBadRequest, "%s", msg)
}
