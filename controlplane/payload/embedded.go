package payload

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// EmbeddedJSON is a JSON document carried inside a JSON string, the way ACS sends
// container.overrides and dockerConfig.config/hostConfig. It also accepts the document
// inline (an object or array instead of a string), as the reference agent does for
// overrides, so a sender that skips the string encoding is still understood. It always
// marshals back as a string, which is the model's form.
type EmbeddedJSON string

// UnmarshalJSON accepts a JSON string (its contents are the document) or an inline
// object/array. null leaves the value empty.
func (e *EmbeddedJSON) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*e = ""
		return nil
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*e = EmbeddedJSON(s)
		return nil
	case b[0] == '{' || b[0] == '[':
		*e = EmbeddedJSON(b)
		return nil
	default:
		return fmt.Errorf("%w: want a JSON string or object, got %.20q", ErrInvalidJSON, b)
	}
}

// MarshalJSON encodes the document as a JSON string.
func (e EmbeddedJSON) MarshalJSON() ([]byte, error) { return json.Marshal(string(e)) }

// empty reports whether the document is absent: nil, "", only white space, or null.
// Such a value carries no settings, so it is treated as not sent rather than as broken.
func (e *EmbeddedJSON) empty() bool {
	if e == nil {
		return true
	}
	t := bytes.TrimSpace([]byte(*e))
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// Ptr returns a pointer to v; handy for the pointer members when building messages.
func Ptr[T any](v T) *T { return &v }
