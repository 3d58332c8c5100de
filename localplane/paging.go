package localplane

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// maxPageSize is both the default and the largest maxResults of every list operation the
// plane serves, as in ECS.
const maxPageSize = 100

// page returns one page of items: nextToken is the decimal offset of the page (opaque to
// clients, as ECS's tokens are), maxResults defaults to and is capped at maxPageSize.
func page(items []string, p paging) ([]string, string, error) {
	start := 0
	if p.NextToken != "" {
		n, ok := parseOffset(p.NextToken)
		if !ok || n > len(items) {
			return nil, "", errInvalidParameter("Invalid nextToken.")
		}
		start = n
	}
	size := maxPageSize
	if p.MaxResults != nil {
		if *p.MaxResults < 1 || int(*p.MaxResults) > maxPageSize {
			return nil, "", errInvalidParameter("maxResults must be between 1 and %d.", maxPageSize)
		}
		size = int(*p.MaxResults)
	}
	end := min(start+size, len(items))
	next := ""
	if end < len(items) {
		next = formatOffset(end)
	}
	out := items[start:end]
	if out == nil {
		out = []string{}
	}
	return out, next, nil
}

// Tokens are base64 so that clients treat them as opaque, as they must with ECS.
const tokenPrefix = "offset:"

func formatOffset(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + strconv.Itoa(n)))
}

func parseOffset(tok string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), tokenPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}
