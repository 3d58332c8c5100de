package wssession

import (
	"fmt"
	"net/url"
	"strings"
)

// URL builds a session URL the way both ACS and TCS want it: the endpoint with its scheme
// turned into the websocket one, "/ws" appended to its path, and query as the query.
func URL(endpoint string, query url.Values) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	switch u.Scheme {
	case "https":
		u.Scheme = "wss"
	case "http":
		u.Scheme = "ws"
	case "ws", "wss":
	default:
		return "", fmt.Errorf("endpoint %q: unsupported scheme", endpoint)
	}
	if u.Host == "" {
		return "", fmt.Errorf("endpoint %q: no host", endpoint)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.Path += "ws"
	u.RawQuery = query.Encode()
	return u.String(), nil
}
