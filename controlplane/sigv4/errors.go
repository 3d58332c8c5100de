package sigv4

import "errors"

// Sentinel errors. Every verification error wraps exactly one of them, so a server can map
// it to the matching AWS error code with errors.Is.
var (
	// ErrMissingAuth: the request carries no SigV4 Authorization header (or the frame no
	// header block). AWS answers MissingAuthenticationTokenException.
	ErrMissingAuth = errors.New("missing SigV4 authentication")
	// ErrBadSignature: the request is signed but the signature does not match, or the
	// Authorization header, credential scope or X-Amz-Date is malformed. AWS answers
	// InvalidSignatureException.
	ErrBadSignature = errors.New("SigV4 signature does not match")
	// ErrUnknownKey: the access key ID is not one the verifier knows. AWS answers
	// UnrecognizedClientException.
	ErrUnknownKey = errors.New("unknown access key ID")
	// ErrExpired: X-Amz-Date is further than MaxSkew from the verifier's clock. AWS
	// answers InvalidSignatureException ("Signature expired").
	ErrExpired = errors.New("SigV4 signature expired or not yet valid")
)
