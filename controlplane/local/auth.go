package local

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ecsd/ecsd/controlplane/sigv4"
)

// authenticate verifies r's SigV4 signature when Options.Credentials is set, and that it
// was made for this server's region and for ECS, as AWS would.
func (s *Server) authenticate(r *http.Request, payloadHash string) error {
	if len(s.opts.Credentials) == 0 {
		return nil
	}
	id, err := sigv4.Verify(r, payloadHash, s.lookupSecret, s.now())
	if err != nil {
		return err
	}
	if id.Region != s.opts.Region || id.Service != sigv4.ServiceECS {
		return fmt.Errorf("%w: credential scoped to %s/%s, want %s/%s", sigv4.ErrBadSignature,
			id.Region, id.Service, s.opts.Region, sigv4.ServiceECS)
	}
	return nil
}

func (s *Server) lookupSecret(accessKeyID string) (string, bool) {
	secret, ok := s.opts.Credentials[accessKeyID]
	return secret, ok
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
	}
	return newAPIError("InvalidSignatureException", http.StatusBadRequest,
		"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
}
